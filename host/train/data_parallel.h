// The trainer's data-parallel steps that do not touch its step buffers: the agreement of the
// ranks on what they train, the broadcast of rank 0's state, and the per-epoch reduction.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "elman/communicator.h"
#include "elman/linear.h"
#include "elman/optim.h"
#include "elman/rnn.h"

namespace elman::detail {

// Every rank passes the same list of (what, value); throws CollectiveError on every rank when
// some value differs between ranks, naming it and its range ("the training set's size: 90 to
// 100 across 2 ranks").
void check_ranks_agree(Communicator& comm, const std::string& call,
                       const std::vector<std::pair<std::string, int64_t>>& facts);

// Rank 0's parameters (each model's flat buffer) and optimizer state, on every rank.
void broadcast_training_state(Communicator& comm, const std::vector<Tensor>& parameters,
                              Optimizer& opt);

// The epoch's read-back, [0] train loss, [1] validation loss (each rank's weighted part), then
// fault slots (the first bad step of each gradient tensor and the loss, 0 when none), reduced
// over the ranks: the losses summed, each slot the earliest step of any rank. Returns the
// lowest rank that saw the earliest fault at its earliest step (0 when none).
int reduce_epoch_sums(Communicator& comm, std::vector<float>& sums, int64_t first_slot);

}  // namespace elman::detail
