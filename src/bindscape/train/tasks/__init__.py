"""Training task plug-ins for `bindscape.train.engine.fit`: `binary` (single-task classification),
`cross_species` (MORALE / GRL domain adaptation) and `multitask_bp` (NetTIME-style per-bp multitask).

Each supplies its config model, builds its data loaders and model, its LightningModule, what to evaluate
and write at the end, and the config fields a resumed run must keep. Code outside `bindscape.train`
imports the entry points from the package (``from bindscape.train import train_multitask``).
"""
