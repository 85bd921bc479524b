// The umbrella header: the whole public API. Compiles with a plain C++17 compiler, no CUDA.
#pragma once

#include "elman/checkpoint.h"
#include "elman/context.h"
#include "elman/data.h"
#include "elman/device.h"
#include "elman/embedding.h"
#include "elman/error.h"
#include "elman/index_tensor.h"
#include "elman/linear.h"
#include "elman/loss.h"
#include "elman/lr_schedule.h"
#include "elman/module.h"
#include "elman/optim.h"
#include "elman/rnn.h"
#include "elman/tensor.h"
#include "elman/trainer.h"
#include "elman/version.h"
