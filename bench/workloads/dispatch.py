"""Class-heavy dispatch: a small expression language, evaluated and simplified by method calls.

Builds trees of node objects (numbers, variables, +, *, negation, let), then evaluates
and rewrites them: virtual calls, attribute loads, small-object allocation, isinstance.

Usage: python dispatch.py [ROUNDS]   prints the seconds the rounds took.
"""

from __future__ import annotations

import sys
import time


class Node:
    __slots__ = ()

    def eval(self, env: dict[str, int]) -> int:
        raise NotImplementedError

    def simplify(self) -> Node:
        return self


class Num(Node):
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def eval(self, env: dict[str, int]) -> int:
        return self.value


class Var(Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def eval(self, env: dict[str, int]) -> int:
        return env[self.name]


class Neg(Node):
    __slots__ = ("arg",)

    def __init__(self, arg: Node) -> None:
        self.arg = arg

    def eval(self, env: dict[str, int]) -> int:
        return -self.arg.eval(env)

    def simplify(self) -> Node:
        arg = self.arg.simplify()
        if isinstance(arg, Num):
            return Num(-arg.value)
        if isinstance(arg, Neg):
            return arg.arg
        return Neg(arg)


class Binary(Node):
    __slots__ = ("left", "right")

    def __init__(self, left: Node, right: Node) -> None:
        self.left = left
        self.right = right

    def combine(self, a: int, b: int) -> int:
        raise NotImplementedError

    def eval(self, env: dict[str, int]) -> int:
        return self.combine(self.left.eval(env), self.right.eval(env)) & 0xFFFFFFFF

    def simplify(self) -> Node:
        left, right = self.left.simplify(), self.right.simplify()
        if isinstance(left, Num) and isinstance(right, Num):
            return Num(self.combine(left.value, right.value) & 0xFFFFFFFF)
        return type(self)(left, right)


class Add(Binary):
    __slots__ = ()

    def combine(self, a: int, b: int) -> int:
        return a + b


class Mul(Binary):
    __slots__ = ()

    def combine(self, a: int, b: int) -> int:
        return a * b


class Let(Node):
    __slots__ = ("body", "name", "value")

    def __init__(self, name: str, value: Node, body: Node) -> None:
        self.name = name
        self.value = value
        self.body = body

    def eval(self, env: dict[str, int]) -> int:
        inner = dict(env)
        inner[self.name] = self.value.eval(env)
        return self.body.eval(inner)

    def simplify(self) -> Node:
        return Let(self.name, self.value.simplify(), self.body.simplify())


def build(depth: int, seed: int) -> Node:
    """A deterministic tree of `depth` levels, mixing every kind of node."""
    kind = seed % 7
    if depth == 0:
        return Var("xyz"[seed % 3]) if kind < 3 else Num(seed % 10)
    left, right = build(depth - 1, seed * 3 + 1), build(depth - 1, seed * 5 + 2)
    if kind == 0:
        return Neg(left)
    if kind == 1:
        return Let("xyz"[seed % 3], left, right)
    return Add(left, right) if kind % 2 else Mul(left, right)


def run(rounds: int) -> float:
    trees = [build(9, seed) for seed in range(8)]
    start = time.perf_counter()
    total = 0
    for r in range(rounds):
        env = {"x": r, "y": r * 2 + 1, "z": 7}
        for tree in trees:
            total += tree.simplify().eval(env)
    elapsed = time.perf_counter() - start
    assert total >= 0
    return elapsed


if __name__ == "__main__":
    print(f"{run(int(sys.argv[1]) if len(sys.argv) > 1 else 400):.6f}")
