"""A static cost limit for GraphQL documents, checked before graphql-core validates them.

graphql-core's validation compares every pair of same-named fields of a selection set
(OverlappingFieldsCanBeMerged), so a few hundred repeated fields, well within the token,
depth and alias limits, cost seconds of CPU on the event loop. The cost is counted on
the parsed document instead, in one linear pass, and a document over the limit never
reaches validation:

- every field costs 1, repeated ones too (nothing is merged);
- a list field multiplies what it selects by its page size: its own `first`/`limit`
  argument (the literal, the variable's value, or the schema default; at most
  `max_page_size`, whose own check names the argument), else the page size of the field
  that returned its page (`tracks(first: 100) { nodes { ... } }`), else
  `default_list_size` (DEFAULT_LIST_SIZE);
- a field repeated in one selection set (same response name, fragments expanded) also
  costs what validating it does: k copies of total size T (fields in them) cost
  (k - 1) * T / 2 more, so 490 copies of `cameras { id }` cost ~245,000, while no
  document the dashboard sends repeats a field;
- fragments are expanded where they are spread; fragments no operation spreads are
  counted once, as validation visits them too;
- introspection (`__schema`, `__type`) selects from the schema itself, which is small and
  fixed: its lists count 1.

A document over the limit gets one error, extensions.code QUERY_TOO_COSTLY, with the cost
and the limit in the message and in `extensions`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from gateway.api.errors import QUERY_TOO_COSTLY

PAGE_ARGUMENTS = ("first", "limit")
# The weight of a list field without a page size (cameras, a camera's zones).
DEFAULT_LIST_SIZE = 10
_ROOT_OPERATIONS = {"query": "query_type", "mutation": "mutation_type"}


@dataclass(frozen=True)
class CostModel:
    """How list fields are weighed (module docs)."""

    default_list_size: int
    max_page_size: int


@dataclass
class _Level:
    """What one selection set adds up to, before its own repeated fields are paired:
    `work` is the execution cost (fields x multipliers), `pairs` the validation cost of
    the levels below, `size` the fields in it (unmultiplied), `names` each response name's
    copies and their total size. Fragments spread into a set merge into its level."""

    work: int = 0
    pairs: int = 0
    size: int = 0
    names: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, other: _Level) -> None:
        self.work += other.work
        self.pairs += other.pairs
        self.size += other.size
        for name, (copies, size) in other.names.items():
            had_copies, had_size = self.names.get(name, (0, 0))
            self.names[name] = (had_copies + copies, had_size + size)

    def closed_pairs(self) -> int:
        """`pairs` plus this level's: validation compares each pair of same-named fields
        and what they select, so k copies of total size T cost (k - 1) * T / 2."""
        return self.pairs + sum((k - 1) * total // 2 for k, total in self.names.values())


@dataclass
class _Counter:
    schema: GraphQLSchema
    model: CostModel
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    variable_defaults: Mapping[str, Any] = field(default_factory=dict)
    spread: set[str] = field(default_factory=set)
    # A fragment's level depends only on where it is spread: (name, type, pending page
    # size). Memoized, so fragments spreading fragments twice over cost linear work.
    memo: dict[tuple[str, str, int | None], _Level] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)

    def selections(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        pending: int | None,
    ) -> _Level:
        level = _Level()
        if selection_set is None:
            return level
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                level.add(self.field(selection, parent, pending))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                level.add(self.selections(selection.selection_set, target, pending))
            elif isinstance(selection, FragmentSpreadNode):
                level.add(self.fragment(selection.name.value, pending))
        return level

    def fragment(self, name: str, pending: int | None) -> _Level:
        self.spread.add(name)
        definition = self.fragments.get(name)
        # An unknown or cyclic spread is a validation error of its own; it adds nothing.
        if definition is None or name in self.active:
            return _Level()
        target = self.schema.get_type(definition.type_condition.name.value)
        key = (name, target.name if target is not None else "", pending)
        if key not in self.memo:
            self.active.add(name)
            try:
                self.memo[key] = self.selections(definition.selection_set, target, pending)
            finally:
                self.active.discard(name)
        return self.memo[key]

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, pending: int | None
    ) -> _Level:
        definition = _field_definition(parent, node.name.value)
        multiplier, child_type, page = 1, None, None
        if definition is not None:  # else __typename, or a field validation will refuse
            page = self.page_size(node, definition)
            introspection = parent is not None and parent.name.startswith("__")
            if _is_list(definition.type) and not introspection:
                multiplier = page or pending or self.model.default_list_size
                page = None  # used up here
            child_type = get_named_type(definition.type)
        child = self.selections(node.selection_set, child_type, page)
        size = 1 + child.size
        response_name = (node.alias or node.name).value
        return _Level(
            work=1 + multiplier * child.work,
            pairs=child.closed_pairs(),
            size=size,
            names={response_name: (1, size)},
        )

    def page_size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page size a field asks for, if it takes one (module docs)."""
        for name in PAGE_ARGUMENTS:
            argument = definition.args.get(name)
            if argument is None:
                continue
            given = next((a.value for a in node.arguments or () if a.name.value == name), None)
            if isinstance(given, VariableNode):
                variable = given.name.value
                value = self.variables.get(variable, self.variable_defaults.get(variable))
            elif isinstance(given, IntValueNode) and len(given.value) <= 9:
                value = int(given.value)  # longer is never a page size (nor a 32-bit Int)
            elif given is None:
                value = argument.default_value
            else:
                value = None
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                value = self.model.max_page_size
            return min(value, self.model.max_page_size)
        return None


def _field_definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def _is_list(output: GraphQLOutputType) -> bool:
    if isinstance(output, GraphQLNonNull):
        output = output.of_type
    return isinstance(output, GraphQLList)


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    return {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }


def _root_type(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> GraphQLObjectType | None:
    kind = operation.operation.value
    attribute = _ROOT_OPERATIONS.get(kind, "subscription_type")
    root: GraphQLObjectType | None = getattr(schema, attribute)
    return root


def _definitions(
    document: DocumentNode,
) -> Iterator[OperationDefinitionNode | FragmentDefinitionNode]:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            yield definition


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    model: CostModel,
) -> int:
    """The cost of every operation in `document`, plus fragments none of them spreads."""
    definitions = list(_definitions(document))
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    counter = _Counter(schema, model, fragments, variables or {})
    total = 0
    for operation in definitions:
        if isinstance(operation, OperationDefinitionNode):
            # Fragments read this operation's variables: count them afresh.
            counter.variable_defaults = _variable_defaults(operation)
            counter.memo.clear()
            root = _root_type(schema, operation)
            level = counter.selections(operation.selection_set, root, None)
            total += level.work + level.closed_pairs()
    counter.variable_defaults = {}
    counter.memo.clear()
    for name in sorted(fragments.keys() - counter.spread):
        level = counter.fragment(name, None)
        total += level.work + level.closed_pairs()
    return total


class QueryCostLimiter(SchemaExtension):
    """Refuses a document whose cost (module docs) is over `max_cost` before validation."""

    def __init__(self, *, max_cost: int, model: CostModel) -> None:
        self.max_cost = max_cost
        self.model = model

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            cost = query_cost(context.schema._schema, document, context.variables, self.model)
            if cost > self.max_cost:
                # Set before validation runs, so strawberry skips it (and its quadratic pass).
                context.pre_execution_errors = [too_costly(cost, self.max_cost)]
        yield


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"query cost {cost} exceeds the limit {limit}",
        extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "limit": limit},
    )
