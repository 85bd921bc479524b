// cuDNN loaded at run time with dlopen: elman-bench starts (and --device cpu works) on a machine
// where libcudnn.so.9 is not loadable; the GPU path says where it looked. Types from cudnn.h.
#pragma once

#include <cudnn.h>

#include <string>

namespace elman::bench {

// Every cuDNN function the bench calls, by name; the pointer types come from cudnn.h.
// clang-format off
#define ELMAN_CUDNN_FUNCTIONS(X) \
  X(cudnnGetVersion) \
  X(cudnnGetCudartVersion) \
  X(cudnnGetErrorString) \
  X(cudnnCreate) \
  X(cudnnDestroy) \
  X(cudnnSetStream) \
  X(cudnnCreateTensorDescriptor) \
  X(cudnnSetTensorNdDescriptor) \
  X(cudnnGetTensorNdDescriptor) \
  X(cudnnDestroyTensorDescriptor) \
  X(cudnnCreateDropoutDescriptor) \
  X(cudnnDestroyDropoutDescriptor) \
  X(cudnnDropoutGetStatesSize) \
  X(cudnnSetDropoutDescriptor) \
  X(cudnnCreateRNNDescriptor) \
  X(cudnnDestroyRNNDescriptor) \
  X(cudnnSetRNNDescriptor_v8) \
  X(cudnnBuildRNNDynamic) \
  X(cudnnGetRNNTempSpaceSizes) \
  X(cudnnGetRNNWeightSpaceSize) \
  X(cudnnGetRNNWeightParams) \
  X(cudnnCreateRNNDataDescriptor) \
  X(cudnnDestroyRNNDataDescriptor) \
  X(cudnnSetRNNDataDescriptor) \
  X(cudnnRNNForward) \
  X(cudnnRNNBackwardData_v8) \
  X(cudnnRNNBackwardWeights_v8)
// clang-format on

struct CudnnApi {
#define ELMAN_CUDNN_POINTER(name) decltype(&::name) name = nullptr;
  ELMAN_CUDNN_FUNCTIONS(ELMAN_CUDNN_POINTER)
#undef ELMAN_CUDNN_POINTER
  std::string library;  // the file dlopen found (its directory, as far as dladdr tells)
  size_t version = 0;   // cudnnGetVersion(), e.g. 91900
};

// Loads libcudnn.so.9 (then libcudnn.so) once; nullptr with *why set when it cannot.
const CudnnApi* load_cudnn(std::string* why);

}  // namespace elman::bench

// Checks a cuDNN status through the loaded API; throws elman::Error naming the call.
#define ELMAN_CUDNN_CHECK(api, call)                                                            \
  do {                                                                                          \
    cudnnStatus_t elman_cudnn_status_ = (api).call;                                             \
    if (elman_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                            \
      throw ::elman::Error(std::string("cuDNN error: ") + #call + " returned " +                \
                           (api).cudnnGetErrorString(elman_cudnn_status_) + " at " + __FILE__ + \
                           ":" + std::to_string(__LINE__));                                     \
  } while (0)
