"""Recipe kinds: one module per ``kind:`` of a recipe, registered in `bindscape.recipes.engine.KINDS`.

- `tfbs` (the default): one TF, negative strategies, training sets, models, PWM baseline, HQ evaluation.
- `cross_species` (``kind: cross-species``): MORALE-style training across species.
- `multitask_bp` (``kind: multitask-bp`` or ``multitask``): NetTIME-style multitask base-pair prediction.
- `agentbind` (``kind: agentbind``): AgentBind's bound-vs-unbound motif-instance experiment.

Each defines ``SCHEMA`` (a `bindscape.recipes.engine.RecipeBase`), ``LATE_VARS``, ``check(recipe)`` and
``run(state, progress=...)``; to add a kind, write such a module and add it to ``KINDS``.
"""
