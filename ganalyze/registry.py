"""One name registry for the roles users fill by name (assessors, generators): register by decorator, list the
names, create by name with a clear error naming the known ones.

Each role's registry module (``assessors.registry``, ``ganalyze.generators.registry``) holds a :class:`Registry`
and says what is particular to it: how its built-ins get registered, what a built object must be, how it is
frozen. Installed packages' entry points (``ganalyze.plugins``) are known by name and imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from ganalyze.errors import UnknownNameError
from ganalyze.plugins import PluginRole, load_entry_point, plugin_entry_points

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Registry(Generic[T]):
    """Factories of one role by name; ``load_builtins`` registers the package's own on first use, ``check`` refuses
    a built object that is not the role's kind (with a ConfigError naming ``name``), ``freeze`` readies it."""

    role: PluginRole
    load_builtins: Callable[[], Any]
    check: Callable[[Any, str], T]
    freeze: Callable[[T], T]
    factories: dict[str, Callable[..., T]] = field(default_factory=dict)

    @property
    def noun(self) -> str:
        """The role in words (assessor, generator)."""
        return self.role.config_group

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: register a class or factory under ``name`` (names are unique)."""

        def wrap(factory: F) -> F:
            if name in self.factories and self.factories[name] is not factory:
                raise ValueError(f"{self.noun} name {name!r} is already registered to {self.factories[name]!r}")
            self.factories[name] = factory
            return factory

        return wrap

    def known(self) -> dict[str, Any]:
        """Registered factories and plugin entry points by name; a registered name wins over a plugin's."""
        self.load_builtins()
        return {**plugin_entry_points(self.role), **self.factories}

    def names(self) -> list[str]:
        """All known names, built-in and from installed plugins, sorted."""
        return sorted(self.known())

    def create(self, name: str, **options: Any) -> T:
        """Build the object registered as ``name`` with keyword options, checked and frozen."""
        known = self.known()
        if name not in known:
            article = "an" if self.noun[:1] in "aeiou" else "a"
            raise UnknownNameError(
                f"unknown {self.noun} {name!r}; known {self.noun}s: {', '.join(sorted(known))}. Register one with "
                f"@register_{self.noun}, the {self.role.entry_point_group!r} entry-point group of an installed "
                f"package, or {article} {self.noun} config whose _target_ names its class."
            )
        factory = known[name]
        if name not in self.factories:  # an entry point: import the plugin now, on first use
            factory = self.factories[name] = load_entry_point(factory, self.role)
        return self.freeze(self.check(factory(**options), name))
