// check_no_overlap: the aliasing rule's one check (host/alias_checks.h).
#include "host/alias_checks.h"

#include <string>

#include "elman/error.h"

namespace elman::detail {

void check_no_overlap(const char* call, const NamedTensor& result, const Shape& shape,
                      Device device, std::initializer_list<NamedTensor> reads) {
  if (!written_in_place(result.tensor, shape, device)) return;  // replaced: no aliasing
  for (const NamedTensor& r : reads)
    if (r.tensor.shares_memory_with(result.tensor))
      throw Error(std::string(call) + ": the result " + result.name + " shares memory with " +
                  r.name +
                  ", which the call reads or also writes; pass a separate tensor (or an "
                  "undefined one, which elman allocates)");
}

}  // namespace elman::detail
