"""bindscape.recipes: YAML recipes that run whole experiments (`bindscape run`).

Shipped recipes live beside this file: ``demo`` (the simulated default data) and ``yeast-reb1`` (real data).
"""

from bindscape.recipes.config import Recipe, available_recipes, load_recipe
from bindscape.recipes.runner import RunState, run_recipe

__all__ = ["Recipe", "RunState", "available_recipes", "load_recipe", "run_recipe"]
