// The CUDA instantiations of the batch gathers and the embedding's gradient
// (kernels/train/batch_gather_ops.h).
#include "kernels/launch.cuh"
#include "kernels/train/batch_gather_ops.h"

namespace elman::detail {

template void launch_cuda<GatherValues>(const GatherValues&, cudaStream_t);
template void launch_cuda<GatherIds>(const GatherIds&, cudaStream_t);
template void launch_cuda<GatherOneHot>(const GatherOneHot&, cudaStream_t);
template void launch_cuda<EmbeddingGather>(const EmbeddingGather&, cudaStream_t);
template void launch_cuda<EmbeddingGradAccumulate>(const EmbeddingGradAccumulate&, cudaStream_t);

}  // namespace elman::detail
