"""The payload converter: dataclasses, enums, pydantic models and other typed values as
arguments and results (JSON stays the wire form), decoded where the code declares a type."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pydantic
import pytest

import harvest_studio as hs
from harvest_studio.model import serde
from harvest_studio.model.payloads import DefaultPayloadConverter, decode, decode_args

from .conftest import sql


class Size(enum.Enum):
    S = "s"
    L = "l"


@dataclasses.dataclass(frozen=True)
class Line:
    sku: str
    size: Size
    price: Decimal


@dataclasses.dataclass(frozen=True)
class Order:
    id: uuid.UUID
    placed: dt.datetime
    lines: list[Line]
    gift: Line | None = None
    tags: frozenset[str] = frozenset()


class Receipt(pydantic.BaseModel):
    order_id: uuid.UUID
    total: Decimal
    sizes: list[Size]


ORDER = Order(
    id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    placed=dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC),
    lines=[Line("tee", Size.L, Decimal("19.90")), Line("cap", Size.S, Decimal("9.50"))],
    tags=frozenset({"b", "a"}),
)


def test_values_go_to_json_and_come_back_as_declared() -> None:
    text = serde.dumps([ORDER])
    assert '"size":"l"' in text and '"tags":["a","b"]' in text and '"price":"19.90"' in text
    wire = serde.check(ORDER)
    assert isinstance(wire, dict) and wire["placed"] == "2026-12-02T09:30:00+00:00"
    assert decode(wire, Order) == ORDER
    assert decode([wire], list[Order]) == [ORDER]
    assert decode({"x": wire}, dict[str, Order]) == {"x": ORDER}
    assert decode(None, Order | None) is None
    receipt = Receipt(order_id=ORDER.id, total=Decimal("29.40"), sizes=[Size.L])
    assert decode(serde.check(receipt), Receipt) == receipt
    assert decode(["1", "2"], tuple[int, ...]) == ("1", "2")  # JSON values are not coerced
    with pytest.raises(hs.PayloadError, match="does not fit Size"):
        decode("xl", Size)
    with pytest.raises(hs.PayloadError, match="not JSON-serialisable"):
        serde.dumps(object())


def test_arguments_are_decoded_by_the_parameters_hints() -> None:
    def handler(ctx: Any, order: Order, count: int, *more: Size) -> None: ...

    decoded = decode_args(handler, [serde.check(ORDER), 3, "s", "l"], skip=1)
    assert decoded == [ORDER, 3, Size.S, Size.L]


@hs.activity
def price(ctx: hs.ActivityContext, order: Order, size: Size) -> Receipt:
    assert isinstance(order, Order) and isinstance(size, Size)
    picked = [line for line in order.lines if line.size == size]
    return Receipt(order_id=order.id, total=sum((x.price for x in picked), Decimal(0)),
                   sizes=[x.size for x in picked])


@hs.workflow
async def checkout(ctx: hs.WorkflowContext, order: Order) -> Receipt:
    state: dict[str, Any] = {"gift": None}

    def add_gift(line: Line) -> None:
        assert isinstance(line, Line)
        state["gift"] = line

    def resize(size: Size) -> Size:
        state["size"] = size
        return size

    ctx.set_signal_handler("gift", add_gift)
    ctx.set_update_handler("resize", resize)
    ctx.set_query_handler("gift", lambda: state["gift"])
    await ctx.wait_condition(lambda: "size" in state)
    receipt = await ctx.execute_activity(price, order, state["size"])
    assert isinstance(receipt, Receipt)  # decoded by the activity's return annotation
    return receipt


def test_typed_values_through_a_whole_run(client: hs.Client, start_worker: Any) -> None:
    start_worker(workflows=[checkout], activities=[price])
    run = client.start(checkout, ORDER)
    run.signal("gift", {"sku": "hat", "size": "xl", "price": "2"})  # no size xl: dropped
    run.signal("gift", Line("sock", Size.S, Decimal("1.00")))
    assert run.update("resize", Size.L) == "l"  # an update's result comes back as JSON
    receipt = run.result(timeout=20)
    assert receipt == Receipt(order_id=ORDER.id, total=Decimal("19.90"), sizes=[Size.L])
    assert run.query("gift") == {"sku": "sock", "size": "s", "price": "1.00"}
    assert client.handle(run.id).result() == serde.check(receipt)  # no type known: JSON
    assert client.handle(run.id).result(result_type=Receipt) == receipt


@hs.workflow
async def prices_a_bad_order(ctx: hs.WorkflowContext) -> str:
    try:
        await ctx.execute_activity(price, {"id": "not a uuid"}, "l")
    except hs.ActivityError as exc:
        return f"{exc.error_type} after {exc.attempt} attempt(s)"
    return "priced"


def test_a_value_that_does_not_fit_fails_without_retries(
    client: hs.Client, start_worker: Any
) -> None:
    start_worker(workflows=[prices_a_bad_order, checkout], activities=[price])
    assert client.start(prices_a_bad_order).result(timeout=20) == "PayloadError after 1 attempt(s)"
    bad = client.start("checkout", {"lines": "none"})
    with pytest.raises(hs.WorkflowFailedError, match="PayloadError"):
        bad.result(timeout=20)


def test_start_checks_the_argument_count_and_writes_nothing(
    client: hs.Client, db_url: str
) -> None:
    with pytest.raises(hs.UsageError, match=r"takes 1 argument\(s\), got 2"):
        client.start(checkout, ORDER, "extra")
    with pytest.raises(hs.UsageError, match=r"takes 1 argument\(s\), got 0"):
        client.start(checkout)
    assert sql(db_url, "SELECT count(*) FROM harvest.runs") == [(0,)]


class Money:
    def __init__(self, cents: int) -> None:
        self.cents = cents

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.cents == self.cents

    __hash__ = None  # type: ignore[assignment]


class MoneyConverter(DefaultPayloadConverter):
    def to_json(self, value: Any) -> Any:
        if isinstance(value, Money):
            return f"{value.cents / 100:.2f} EUR"
        return super().to_json(value)

    def from_json(self, value: Any, hint: Any) -> Any:
        if hint is Money:
            return Money(round(float(value.split()[0]) * 100))
        return super().from_json(value, hint)


@pytest.fixture
def money_converter() -> Iterator[None]:
    hs.set_payload_converter(MoneyConverter())
    yield
    hs.set_payload_converter(DefaultPayloadConverter())


@hs.activity
async def double(ctx: hs.ActivityContext, amount: Money) -> Money:
    await asyncio.sleep(0)
    return Money(amount.cents * 2)


@hs.workflow
async def doubles(ctx: hs.WorkflowContext, amount: Money) -> Money:
    return await ctx.execute_activity(double, amount)


def test_a_converter_of_ones_own(
    client: hs.Client, start_worker: Any, money_converter: None
) -> None:
    start_worker(workflows=[doubles], activities=[double])
    run = client.start(doubles, Money(1250))
    assert run.result(timeout=20) == Money(2500)
    assert run.describe().input == ["12.50 EUR"]
    with pytest.raises(TypeError, match="PayloadConverter"):
        hs.set_payload_converter(object())  # type: ignore[arg-type]
