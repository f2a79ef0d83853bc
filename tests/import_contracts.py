"""import-linter contract types of this project (pyproject.toml names them in `contract_types`; lint-imports
finds this module because it runs from the repository root).

`registry_independence`: the plugin modules a registry names (e.g. every stage in STAGE_MODULES) never
import each other, directly or not. The module list is read from the registry itself, so a stage added
with its one line is under the contract at once, and there is no second list to keep.
"""
from __future__ import annotations

from importlib import import_module

from importlinter.contracts.independence import IndependenceContract
from importlinter.domain import fields
from importlinter.domain.imports import ModuleExpression


def registry_plugins(reference: str) -> list[str]:
    """The plugin modules of the registry `package.module:NAME`."""
    from edgecv.registry import plugin_modules

    module, _, name = reference.partition(":")
    return plugin_modules(getattr(import_module(module), name).plugins)


class RegistryIndependenceContract(IndependenceContract):
    type_name = "registry_independence"

    registry = fields.StringField()  # package.module:REGISTRY
    modules = fields.SetField(subfield=fields.ModuleExpressionField(), required=False)

    def check(self, graph, verbose):
        self.modules = {ModuleExpression(m) for m in registry_plugins(self.registry)}
        return super().check(graph, verbose)
