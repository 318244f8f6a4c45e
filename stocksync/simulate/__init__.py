"""The outcome simulator: one shopper stream, three ways of keeping the channels' counts.

Pure Python (no Prefect): the scenario (:mod:`scenario`), the shopper stream drawn from it
(:mod:`stream`), the two baselines on a simulated clock (:mod:`baselines`), the accounting of
what each way cost (:mod:`accounting`) and the report (:mod:`report`). The real pipeline's run
(``stocksync`` mode) lives with the other Prefect-side runners in ``deployments/bench``.
"""
