"""bindscape.recipes: YAML recipes that run whole experiments (`bindscape run`).

`engine` loads any recipe (one loader), sets up the run folder, runs stages with markers and applies one
resume rule; `kinds/` holds one module per recipe ``kind:`` (``tfbs``, ``cross-species``, ``multitask-bp``).
Shipped recipes live beside this file: ``demo`` (the simulated default data), ``yeast-reb1`` (real data,
``--var data=DIR``), ``cross-species``, ``cross-species-yeast-worm`` (``--var shared_data=DIR``),
``multitask-bp`` and ``multitask-bp-lineage``.
"""

from bindscape.recipes.engine import (
    KINDS,
    RecipeBase,
    RunState,
    available_recipes,
    find_recipe,
    load_recipe,
    resume_training,
    run_recipe,
    stage,
)

__all__ = ["KINDS", "RecipeBase", "RunState", "available_recipes", "find_recipe", "load_recipe", "resume_training",
           "run_recipe", "stage"]
