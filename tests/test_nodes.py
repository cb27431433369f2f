"""Activation nodes hold their records: an expression's meaning needs no registry look-up."""

import dataclasses
import pickle

import sympy as sp

from gradscribe.derive import activations
from gradscribe.derive.chain import derive
from gradscribe.derive.evaluate import ExactBackend, evaluate
from gradscribe.derive.nodes import Activated, ActivationPrime
from gradscribe.derive.spec import parse_inline

G = sp.MatrixSymbol("G1", 2, 1)
R = sp.MatrixSymbol("R1", 2, 1)


def test_a_node_holds_the_record_it_was_built_with():
    tanh = activations.get("tanh")
    node = ActivationPrime(tanh, None, G, R)
    assert node.record is tanh and node.name == "tanh"
    assert Activated("tanh", None, G).record is tanh  # a name is looked up once, when built
    assert str(node) == "ActivationPrime(tanh, 0, G1, R1)"


def test_a_derivation_keeps_its_meaning_when_the_registry_changes(monkeypatch):
    derivation = derive(parse_inline("2-2-1:tanh,identity:mse"))
    d1 = derivation.equation("D1").rhs
    planted = dataclasses.replace(activations.get("tanh"), derivative=1 - activations.r**3)
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh", planted)
    (prime,) = d1.atoms(ActivationPrime)
    env = {"G1": sp.Matrix([[1], [2]]), "R1": sp.Matrix([[sp.Rational(1, 2)], [sp.Rational(1, 3)]])}
    assert evaluate(prime, env, 1, ExactBackend()) == sp.Matrix([[sp.Rational(3, 4)], [sp.Rational(8, 9)]])
    # A node built from the planted record is another node, though it prints the same name.
    other = ActivationPrime(planted, None, prime.g, prime.out)
    assert other != prime and other.name == prime.name
    assert evaluate(other, env, 1, ExactBackend()) == sp.Matrix([[sp.Rational(7, 8)], [sp.Rational(26, 27)]])


def test_nodes_compare_by_record_and_alpha_and_survive_pickling():
    elu = activations.get("elu")
    half, two = Activated(elu, sp.Rational(1, 2), G), Activated(elu, 2, G)
    assert half != two and half == Activated("elu", sp.Rational(1, 2), G)
    assert half.alpha == sp.Rational(1, 2)
    assert pickle.loads(pickle.dumps(half)) == half
    assert Activated("relu", 5, G).alpha is None  # relu takes no alpha
