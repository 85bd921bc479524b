// The small public types the engine's calls rest on: Device, Tensor (copies, views, transfers)
// and the version, on the CPU and, where present, between the CPU and a CUDA device.
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace elman::test {
namespace {

TEST(Api, DeviceAndVersion) {
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_EQ(Device::cuda(1).str(), "cuda:1");
  EXPECT_TRUE(Device::cpu().is_cpu());
  EXPECT_TRUE(Device::cuda().is_cuda());
  EXPECT_NE(Device::cuda(0), Device::cuda(1));
  EXPECT_EQ(Device::cuda(2), Device::cuda(2));
  EXPECT_EQ(cuda_available(), cuda_device_count() > 0);
  // The library reports the configuration CMake chose (ELMAN_WITH_CUDA), and a CPU-only build
  // never sees a device.
  EXPECT_EQ(built_with_cuda(), ELMAN_CUDA_ENABLED == 1);
  if (!built_with_cuda()) {
    EXPECT_EQ(cuda_device_count(), 0);
  }
  EXPECT_EQ(Device::best_available(), cuda_available() ? Device::cuda(0) : Device::cpu());
  EXPECT_EQ(std::string(version_string()), std::to_string(kVersionMajor) + "." +
                                               std::to_string(kVersionMinor) + "." +
                                               std::to_string(kVersionPatch));
  Context ctx;  // the CPU by default
  EXPECT_EQ(ctx.device(), Device::cpu());
  EXPECT_EQ(ctx.stream(), nullptr);
  EXPECT_NO_THROW(ctx.synchronize());
}

TEST(Api, TensorBasics) {
  EXPECT_EQ(shape_str({5, 3, 2}), "[5, 3, 2]");
  EXPECT_EQ(shape_str({}), "[]");
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({4, 0, 2}), 0);
  const Tensor undefined;
  EXPECT_FALSE(undefined.defined());
  EXPECT_EQ(undefined.to(Device::cpu()).defined(), false);

  Tensor t = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(t.dim(), 2);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_EQ(t.device(), Device::cpu());
  // Copies are shallow, clone() is deep.
  Tensor shallow = t;
  Tensor deep = t.clone();
  t.fill(9.0f);
  EXPECT_TRUE(identical("shallow copy", shallow.to_vector(), std::vector<float>(6, 9.0f)));
  EXPECT_TRUE(identical("clone", deep.to_vector(), {1, 2, 3, 4, 5, 6}));
  // copy_from between tensors of the same shape; reshape shares storage.
  t.copy_from(deep);
  EXPECT_TRUE(identical("copy_from", t.to_vector(), {1, 2, 3, 4, 5, 6}));
  Tensor r = t.reshape({3, 2});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  r.view({2}, 4).fill(0.0f);
  EXPECT_TRUE(identical("view of a reshape", t.to_vector(), {1, 2, 3, 4, 0, 0}));
  EXPECT_TRUE(identical("zeros", Tensor::zeros({3}).to_vector(), {0, 0, 0}));
  EXPECT_TRUE(identical("full", Tensor::full({2}, -1.5f).to_vector(), {-1.5f, -1.5f}));
  EXPECT_EQ(Tensor::empty({0, 4}).to_vector().size(), 0u);
}

TEST(Api, TensorTransfersToAndFromCuda) {
  ELMAN_SKIP_WITHOUT_CUDA();
  const std::vector<float> v = to_float(random_floats(1000, 1));
  const Tensor host = Tensor::from_vector({10, 100}, v);
  const Tensor dev = host.to(Device::cuda(0));
  EXPECT_EQ(dev.device(), Device::cuda(0));
  EXPECT_TRUE(identical("round trip", dev.to(Device::cpu()).to_vector(), v));
  EXPECT_TRUE(identical("to_vector from the device", dev.to_vector(), v));
  Tensor d2 = Tensor::full({10, 100}, 3.0f, Device::cuda(0));
  d2.view({100}, 200).copy_from(dev.view({100}, 0));  // device to device, at offsets
  const std::vector<float> got = d2.to_vector();
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], i >= 200 && i < 300 ? v[i - 200] : 3.0f) << i;
  const Tensor from = Tensor::from_vector({3}, {1, 2, 3}, Device::cuda(0));
  EXPECT_TRUE(identical("from_vector on the device", from.to_vector(), {1, 2, 3}));
  EXPECT_TRUE(identical("clone on the device", from.clone().to_vector(), {1, 2, 3}));
}

}  // namespace
}  // namespace elman::test
