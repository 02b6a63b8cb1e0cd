"""Functions of lists, tuples and dicts of arrays from HIPS/autograd's (MIT)
tests/test_list.py, test_tuple.py, test_dict.py, plus test_direct.py and
test_logic.py.

Ported by hand: numpy instead of autograd.numpy; each test's ``fun`` is named
after its file and test (``test_list.py::test_getter`` -> ``list_getter``).
"""

import operator as op

import numpy as np


def list_getter(input_list):
    A = np.sum(input_list[0])
    B = np.sum(input_list[1])
    C = np.sum(input_list[1])
    return A + B + C


def list_grads(input_list):
    A = np.sum(np.sin(input_list[0]))
    B = np.sum(np.cos(input_list[1]))
    return A + B


def list_slices_object(x):
    s = slice(None, -1, None)
    y = x[s]
    return y[0]


def list_slices(x):
    y = x[1:3]
    return y[0]


def nested_list(x):
    return x[1:][0]


def tuple_getter(input_tuple):
    A = np.sum(input_tuple[0])
    B = np.sum(input_tuple[1])
    C = np.sum(input_tuple[1])
    return A + B + C


def dict_getter(input_dict):
    A = np.sum(input_dict["item_1"])
    B = np.sum(input_dict["item_2"])
    C = np.sum(input_dict["item_2"])
    return A + B + C


def dict_grads(input_dict):
    A = np.sum(np.sin(input_dict["item_1"]))
    B = np.sum(np.cos(input_dict["item_2"]))
    return A + B


def dict_iter(input_dict):
    A = 0.0
    B = 0.0
    for i, k in enumerate(sorted(input_dict)):
        A = A + np.sum(np.sin(input_dict[k])) * (i + 1.0)
        B = B + np.sum(np.cos(input_dict[k]))
    return A + B


def dict_items_values_keys(input_dict):
    A = 0.0
    B = 0.0
    for i, (k, v) in enumerate(sorted(input_dict.items(), key=op.itemgetter(0))):
        A = A + np.sum(np.sin(v)) * (i + 1.0)
        B = B + np.sum(np.cos(v))
    for v in input_dict.values():
        A = A + np.sum(np.sin(v))
    for k in sorted(input_dict.keys()):
        A = A + np.sum(np.cos(input_dict[k]))
    return A + B


def dict_get(d, x):
    return d.get("item_1", x) ** 2


def direct_grad(x):
    return (x + np.sin(x**2)) * x


def logic_assert(x):
    assert np.allclose(x, (x * 3.0) / 3.0)
    return np.sum(x)
