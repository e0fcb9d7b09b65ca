"""The tasks `bench_real_model` gives a real model: small three-module Python packages whose goals spell out the
module paths and the API, each with hidden pytest tests written from the goal that the swarm's workers never
see (issue 22 §1). A task's score is the share of its hidden tests that pass on the job's final tree."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    goal: str
    hidden_tests: str  # one pytest module, run against the job's tree


CALC = Task("calc", (
    "Build a Python package `calc` for arithmetic expressions, in three modules: "
    "calc/tokenizer.py with tokenize(text: str) -> list[str], which splits an expression into number tokens "
    "(integers or decimals such as '3.5') and the one-character tokens + - * / ( ), skipping spaces, and raises "
    "ValueError on any other character; "
    "calc/parser.py with to_rpn(tokens: list[str]) -> list[str], which turns tokens into reverse Polish notation "
    "with the usual precedence (* and / before + and -, left to right, parentheses first); "
    "calc/evaluator.py with evaluate(text: str) -> float, which tokenizes, converts to RPN and computes the value, "
    "raising ValueError for a malformed expression and ZeroDivisionError for a division by zero. "
    "Write pytest tests in tests/."), '''
import pytest

from calc.evaluator import evaluate
from calc.parser import to_rpn
from calc.tokenizer import tokenize


def test_tokenize_numbers_and_operators():
    assert tokenize("12+3.5*(2-1)") == ["12", "+", "3.5", "*", "(", "2", "-", "1", ")"]


def test_tokenize_skips_spaces():
    assert tokenize(" 1 +  2 ") == ["1", "+", "2"]


def test_tokenize_rejects_other_characters():
    with pytest.raises(ValueError):
        tokenize("2 $ 3")


def test_rpn_precedence():
    assert to_rpn(["1", "+", "2", "*", "3"]) == ["1", "2", "3", "*", "+"]


def test_rpn_left_to_right_and_parentheses():
    assert to_rpn(["(", "1", "+", "2", ")", "*", "3"]) == ["1", "2", "+", "3", "*"]
    assert to_rpn(["8", "-", "3", "-", "2"]) == ["8", "3", "-", "2", "-"]


def test_evaluate_precedence():
    assert evaluate("2+3*4") == 14.0


def test_evaluate_parentheses_and_decimals():
    assert evaluate("(1.5+2.5)*2") == 8.0


def test_evaluate_division():
    assert evaluate("7/2") == 3.5


def test_evaluate_division_by_zero():
    with pytest.raises(ZeroDivisionError):
        evaluate("1/0")


def test_evaluate_malformed():
    with pytest.raises(ValueError):
        evaluate("2+*3")
''')

SHORTENER = Task("shortener", (
    "Build a Python package `shortener`, a URL shortener, in three modules: "
    "shortener/codes.py with encode(number: int) -> str and decode(code: str) -> int, base-62 with the alphabet "
    "'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ' (encode(0) == '0', encode(61) == 'Z', "
    "encode(62) == '10'; decode is the inverse); "
    "shortener/validate.py with is_valid_url(url: str) -> bool, true only for http:// or https:// URLs with a "
    "host name; "
    "shortener/store.py with class UrlStore: UrlStore.shorten(url: str) -> str returns the code of the URL "
    "(encode of 1 for the first URL stored, 2 for the second, and the same code again for a URL already "
    "stored) and raises ValueError for an invalid URL; UrlStore.resolve(code: str) -> str returns the URL and "
    "raises KeyError for an unknown code. Write pytest tests in tests/."), '''
import pytest

from shortener.codes import decode, encode
from shortener.store import UrlStore
from shortener.validate import is_valid_url


def test_encode_known_values():
    assert [encode(0), encode(61), encode(62)] == ["0", "Z", "10"]


def test_decode_is_the_inverse():
    assert all(decode(encode(n)) == n for n in (0, 1, 61, 62, 3843, 123456))


def test_valid_urls():
    assert is_valid_url("https://example.com/a?b=1") and is_valid_url("http://example.org")


def test_invalid_urls():
    assert not any(is_valid_url(url) for url in ("ftp://example.com", "example.com", "https://", ""))


def test_shorten_numbers_codes_in_order():
    store = UrlStore()
    assert store.shorten("https://a.example") == "1"
    assert store.shorten("https://b.example") == "2"


def test_shorten_the_same_url_twice():
    store = UrlStore()
    assert store.shorten("https://a.example") == store.shorten("https://a.example")


def test_resolve():
    store = UrlStore()
    code = store.shorten("https://a.example/page")
    assert store.resolve(code) == "https://a.example/page"


def test_resolve_unknown_code():
    with pytest.raises(KeyError):
        UrlStore().resolve("zz")


def test_shorten_refuses_invalid_urls():
    with pytest.raises(ValueError):
        UrlStore().shorten("not a url")
''')

INVENTORY = Task("inventory", (
    "Build a Python package `inventory` in three modules: "
    "inventory/models.py with a dataclass Product(sku: str, name: str, price: float, quantity: int = 0); "
    "inventory/stock.py with class Stock: Stock.add(product: Product) adds a product or, for a sku already "
    "there, adds its quantity; Stock.remove(sku: str, quantity: int) lowers the quantity, raising KeyError for "
    "an unknown sku and ValueError when there is not enough; Stock.quantity(sku: str) -> int (0 for an unknown "
    "sku); Stock.total_value() -> float, the sum of price * quantity; "
    "inventory/report.py with low_stock(stock: Stock, threshold: int) -> list[str], the skus whose quantity is "
    "below the threshold, sorted. Write pytest tests in tests/."), '''
import pytest

from inventory.models import Product
from inventory.report import low_stock
from inventory.stock import Stock


def stock_of(*products):
    stock = Stock()
    for product in products:
        stock.add(product)
    return stock


def test_product_defaults():
    assert Product("a1", "Apple", 0.5).quantity == 0


def test_add_and_quantity():
    assert stock_of(Product("a1", "Apple", 0.5, 10)).quantity("a1") == 10


def test_adding_the_same_sku_adds_quantity():
    assert stock_of(Product("a1", "Apple", 0.5, 10), Product("a1", "Apple", 0.5, 5)).quantity("a1") == 15


def test_unknown_sku_has_no_quantity():
    assert Stock().quantity("zz") == 0


def test_remove():
    stock = stock_of(Product("a1", "Apple", 0.5, 10))
    stock.remove("a1", 4)
    assert stock.quantity("a1") == 6


def test_remove_too_many():
    with pytest.raises(ValueError):
        stock_of(Product("a1", "Apple", 0.5, 1)).remove("a1", 2)


def test_remove_unknown():
    with pytest.raises(KeyError):
        Stock().remove("zz", 1)


def test_total_value():
    assert stock_of(Product("a1", "Apple", 0.5, 10), Product("b2", "Pear", 2.0, 3)).total_value() == 11.0


def test_low_stock_sorted():
    stock = stock_of(Product("b2", "Pear", 2.0, 1), Product("a1", "Apple", 0.5, 0), Product("c3", "Fig", 1.0, 9))
    assert low_stock(stock, 5) == ["a1", "b2"]
''')

TASKS = {task.name: task for task in (CALC, SHORTENER, INVENTORY)}
TEA = "A one-page guide to brewing green tea: water, timing, storage"
