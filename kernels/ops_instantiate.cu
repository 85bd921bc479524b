// The one place each functor op is compiled for the GPU: an explicit instantiation of the
// generic launcher per op type. Adding an op means adding its line here.
#include "kernels/batch_ops.h"
#include "kernels/copy_ops.h"
#include "kernels/dropout_ops.h"
#include "kernels/launch.cuh"
#include "kernels/step_ops.h"
#include "kernels/train/batch_gather_ops.h"
#include "kernels/train/train_ops.h"

namespace elman::detail {

template void launch_cuda<ForwardStep>(const ForwardStep&, cudaStream_t);
template void launch_cuda<BackwardStep>(const BackwardStep&, cudaStream_t);
template void launch_cuda<Fill>(const Fill&, cudaStream_t);
template void launch_cuda<CopyRows>(const CopyRows&, cudaStream_t);
template void launch_cuda<ReorderSequences>(const ReorderSequences&, cudaStream_t);
template void launch_cuda<PermuteRows>(const PermuteRows&, cudaStream_t);
template void launch_cuda<GatherFinalStep>(const GatherFinalStep&, cudaStream_t);
template void launch_cuda<ApplyDropout>(const ApplyDropout&, cudaStream_t);
// Training (kernels/train/train_ops.h).
template void launch_cuda<BroadcastRows>(const BroadcastRows&, cudaStream_t);
template void launch_cuda<MseLossGrad>(const MseLossGrad&, cudaStream_t);
template void launch_cuda<SoftmaxCrossEntropy>(const SoftmaxCrossEntropy&, cudaStream_t);
template void launch_cuda<SgdUpdate>(const SgdUpdate&, cudaStream_t);
template void launch_cuda<AdamUpdate>(const AdamUpdate&, cudaStream_t);
template void launch_cuda<ClipByNorm>(const ClipByNorm&, cudaStream_t);
template void launch_cuda<FirstNonFinite>(const FirstNonFinite&, cudaStream_t);
template void launch_cuda<ScaleInPlace>(const ScaleInPlace&, cudaStream_t);
// Batch gathers and the embedding (kernels/train/batch_gather_ops.h).
template void launch_cuda<GatherValues>(const GatherValues&, cudaStream_t);
template void launch_cuda<GatherIds>(const GatherIds&, cudaStream_t);
template void launch_cuda<GatherTokenRows>(const GatherTokenRows&, cudaStream_t);
template void launch_cuda<EmbeddingGradAccumulate>(const EmbeddingGradAccumulate&, cudaStream_t);

}  // namespace elman::detail
