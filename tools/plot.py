#!/usr/bin/python3
"""Plots an elman-train run folder.

usage: tools/plot.py RUN_FOLDER [RUN_FOLDER ...]   (runs /usr/bin/python3, where Debian's
       python3-matplotlib lives; or: /usr/bin/python3 tools/plot.py ...)

Writes into each folder, from the files that are there:
  learning_curve.png  from metrics.csv (epoch,train_loss,val_loss,seconds)
  hidden_states.png   from hidden_states.csv (step,input,h0,h1,...): one line per unit over
                      time, and a heatmap of units x time with the inputs under it
  forecast.png        from a series run's predictions.csv (index,actual,predicted,naive)
Needs matplotlib (Debian: python3-matplotlib); no display is needed.
"""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def plot_learning_curve(folder):
    path = os.path.join(folder, "metrics.csv")
    if not os.path.exists(path):
        return None
    header, rows = read_csv(path)
    col = {name: i for i, name in enumerate(header)}
    epochs = [int(r[col["epoch"]]) for r in rows]
    train = [float(r[col["train_loss"]]) for r in rows]
    val = [float(r[col["val_loss"]]) for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(epochs, train, marker="o" if len(epochs) <= 30 else None, label="train")
    if any(math.isfinite(v) for v in val):
        ax.plot(epochs, val, marker="s" if len(epochs) <= 30 else None, label="validation")
    positive = [v for v in train + val if math.isfinite(v) and v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log", nonpositive="mask")  # spanning decades; exact zeros left off
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Learning curve: " + os.path.basename(os.path.normpath(folder)))
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = os.path.join(folder, "learning_curve.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_hidden_states(folder):
    path = os.path.join(folder, "hidden_states.csv")
    if not os.path.exists(path):
        return None
    header, rows = read_csv(path)
    steps = [int(r[0]) for r in rows]
    inputs = [r[1] for r in rows]
    units = header[2:]
    states = [[float(v) for v in r[2:]] for r in rows]  # [time][unit]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    for j, name in enumerate(units):
        ax1.plot(steps, [s[j] for s in states], marker="o", label=name if len(units) <= 10 else None)
    ax1.set_xlabel("time step")
    ax1.set_ylabel("hidden state value")
    ax1.set_title("Hidden state evolution (%d units)" % len(units))
    ax1.set_xticks(steps)
    ax1.grid(True, alpha=0.3)
    if len(units) <= 10:
        ax1.legend()
    matrix = [[states[t][j] for t in range(len(steps))] for j in range(len(units))]
    im = ax2.imshow(matrix, aspect="auto", cmap="coolwarm", vmin=-1, vmax=1,
                    extent=(steps[0] - 0.5, steps[-1] + 0.5, len(units) - 0.5, -0.5))
    fig.colorbar(im, ax=ax2, label="value")
    ax2.set_xlabel("time step (input)")
    ax2.set_ylabel("unit")
    if len(steps) <= 40:
        ax2.set_xticks(steps)
        ax2.set_xticklabels(["%d\n(x=%s)" % (t, x) for t, x in zip(steps, inputs)], fontsize=8)
    if len(units) <= 40:
        ax2.set_yticks(range(len(units)))
        ax2.set_yticklabels(units, fontsize=8 if len(units) > 10 else 10)
    ax2.set_title("Hidden state heatmap (units x time)")
    fig.tight_layout()
    out = os.path.join(folder, "hidden_states.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_forecast(folder):
    path = os.path.join(folder, "predictions.csv")
    if not os.path.exists(path):
        return None
    header, rows = read_csv(path)
    if header[:4] != ["index", "actual", "predicted", "naive"]:
        return None  # next-number's table, not a forecast
    index = [int(r[0]) for r in rows]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(index, [float(r[1]) for r in rows], color="black", label="actual")
    ax.plot(index, [float(r[2]) for r in rows], label="RNN forecast")
    ax.plot(index, [float(r[3]) for r in rows], linestyle="--", alpha=0.7,
            label="naive (last value)")
    ax.set_xlabel("index in the series")
    ax.set_title("One-step forecasts on the validation part")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = os.path.join(folder, "forecast.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    status = 0
    for folder in argv[1:]:
        if not os.path.isdir(folder):
            print("plot.py: %s is not a folder" % folder, file=sys.stderr)
            status = 1
            continue
        made = [p for p in (plot_learning_curve(folder), plot_hidden_states(folder),
                            plot_forecast(folder)) if p]
        if not made:
            print("plot.py: %s has neither metrics.csv nor hidden_states.csv" % folder,
                  file=sys.stderr)
            status = 1
        for p in made:
            print("wrote " + p)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
