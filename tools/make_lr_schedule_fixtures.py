#!/usr/bin/env python3
"""Writes tests/fixtures/lr_schedules.json: the learning rate of every epoch under PyTorch's
StepLR and CosineAnnealingLR (scheduler.step() after each epoch), for elman's LRSchedule test.
Usage: /usr/bin/python3 tools/make_lr_schedule_fixtures.py (needs torch)."""
import json
import os

import torch

CASES = [
    ("step:3:0.5", lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)),
    ("step:1:0.9", lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)),
    ("cosine:10:0", lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)),
    ("cosine:7:0.001",
     lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.001)),
]
BASE_LR = 0.05
EPOCHS = 25  # past T_max: the cosine goes on (PyTorch's curve rises again)


def main():
    out = {"torch": torch.__version__, "base_lr": BASE_LR, "cases": []}
    for text, make in CASES:
        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([param], lr=BASE_LR)
        sched = make(opt)
        rates = []
        for _ in range(EPOCHS):
            rates.append(opt.param_groups[0]["lr"])  # the rate this epoch trains with
            opt.step()
            sched.step()
        out["cases"].append({"schedule": text, "rates": rates})
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "lr_schedules.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
