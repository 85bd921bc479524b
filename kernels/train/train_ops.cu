// The CUDA instantiations of the training functors (kernels/train/train_ops.h): one line per
// op type, so host files never see device code.
#include "kernels/launch.cuh"
#include "kernels/train/train_ops.h"

namespace elman::detail {

template void launch_cuda<BroadcastRows>(const BroadcastRows&, cudaStream_t);
template void launch_cuda<MseLossGrad>(const MseLossGrad&, cudaStream_t);
template void launch_cuda<SoftmaxCrossEntropy>(const SoftmaxCrossEntropy&, cudaStream_t);
template void launch_cuda<SgdUpdate>(const SgdUpdate&, cudaStream_t);
template void launch_cuda<AdamUpdate>(const AdamUpdate&, cudaStream_t);
template void launch_cuda<ClipByNorm>(const ClipByNorm&, cudaStream_t);
template void launch_cuda<FirstNonFinite>(const FirstNonFinite&, cudaStream_t);
template void launch_cuda<ScaleInPlace>(const ScaleInPlace&, cudaStream_t);

}  // namespace elman::detail
