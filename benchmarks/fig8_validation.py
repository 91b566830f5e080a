"""Fig 8 (SwiGLU validation): our cycles vs the reference STeP simulator and the HDL model.

Run: ``python benchmarks/fig8_validation.py`` (builds the programs of tests/test_sim_validation.py).
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "tests")]

from test_sim_validation import REFERENCE, swiglu  # noqa: E402

import step_lab as sl  # noqa: E402


def main() -> None:
    for label, hw in (("VALIDATION (1 outstanding tile)", sl.hw.VALIDATION),
                      ("VALIDATION with 2 outstanding tiles",
                       sl.hw.VALIDATION.replace(offchip_outstanding_tiles=2))):
        ours = np.array([sl.simulate(swiglu(*mn), hw=hw, values=False).cycles
                         for mn in REFERENCE])
        ref = np.array([c for c, _ in REFERENCE.values()])
        hdl = np.array([h for _, h in REFERENCE.values()])
        rank = np.abs(np.argsort(np.argsort(ours)) - np.argsort(np.argsort(ref))).max()
        print(f"\n{label}\n  (m,n)     ours    STeP-ref  ratio   HDL≈")
        for (mn, (c, h)), o in zip(REFERENCE.items(), ours, strict=True):
            print(f"  {str(mn):9} {o:7d} {c:9d}  {o / c:5.2f}  {h:6d}")
        print(f"  Pearson r vs STeP reference = {np.corrcoef(ours, ref)[0, 1]:.4f}, "
              f"vs HDL = {np.corrcoef(ours, hdl)[0, 1]:.4f}, max ratio error "
              f"{np.max(np.abs(ours / ref - 1)):.1%}, mean |error| "
              f"{np.mean(np.abs(ours / ref - 1)):.1%}, max rank shift {rank}")


if __name__ == "__main__":
    main()
