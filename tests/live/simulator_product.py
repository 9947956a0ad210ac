"""The simulated API's product metrics and database pool (catalog._PRODUCT): A/B exposures and
conversions, the conversion model's predictions by outcome, revenue and cost, conversation duration,
drift scores and the SQLAlchemy pool's gauges, with plausible values.

tests/live/simulator.py calls `conversation_started`, `conversation_ended` and `request` from its
traffic and `tick` once per scrape; everything here goes through its `child(name, **labels)`, which
checks each metric's labels against the catalog.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import catalog

EXPERIMENTS = {"greeting_script": ("control", "warm_intro"), "pricing_pitch": ("control", "annual_first")}
# How much more often each variant converts than control (the simulated effect of the experiment).
VARIANT_LIFT = {"control": 1.0, "warm_intro": 1.3, "annual_first": 0.9}
FEATURES = ("call_duration", "message_count", "sentiment", "lead_source")
CURRENCY = "EUR"
TIER_PRICE = {"agents_access": 99.0, "hybrid_coaching": 499.0, "elite": 1999.0}  # revenue of one conversion, EUR
COST_PER_REQUEST = {"llm": 0.05, "speech": 0.03, "telephony": 0.02}  # EUR: about 0.5 per conversation of five requests
POOL_NAME = "ngx-db"
POOL_SIZE, MAX_OVERFLOW = 5, 10  # SQLAlchemy's QueuePool defaults
DURATION_RANGE = (45.0, 900.0)  # seconds a conversation lasts
BUCKETS = {
    "ngx_conversion_prediction_probability": tuple(round(0.1 * step, 1) for step in range(1, 11)),
    "ngx_conversation_duration_seconds": (30, 60, 120, 180, 300, 600, 900, 1800, 3600),
}
# Values of the product labels, so every series exists (at zero) before its first event.
LABEL_VALUES = {
    "experiment": tuple(EXPERIMENTS),
    "variant": ("control", "warm_intro", "annual_first"),
    "outcome": catalog.CONVERSION_OUTCOMES,
    "currency": (CURRENCY,),
    "kind": catalog.COST_KINDS,
    "feature": FEATURES,
    "pool_name": (POOL_NAME,),
    "state": catalog.DB_POOL_STATES,
}


def valid(labels: dict[str, str]) -> bool:
    """Only the variants an experiment has (the label product would pair every experiment with every variant)."""
    return "experiment" not in labels or labels["variant"] in EXPERIMENTS[labels["experiment"]]


class ProductTraffic:
    def __init__(self, child: Callable[..., object], rnd: random.Random) -> None:
        self.child, self.rnd = child, rnd

    def conversation_started(self) -> None:
        experiment = self.rnd.choice(tuple(EXPERIMENTS))
        self.child("ngx_ab_exposures_total", experiment=experiment, variant=self.rnd.choice(EXPERIMENTS[experiment])).inc()

    def conversion_share(self, share: float) -> tuple[str, str, float]:
        """An experiment and variant for an ending conversation (the simulator keeps no state per conversation:
        starts and ends draw their variant alike) and its conversion share under the variant's lift."""
        experiment = self.rnd.choice(tuple(EXPERIMENTS))
        variant = self.rnd.choice(EXPERIMENTS[experiment])
        return experiment, variant, min(1.0, share * VARIANT_LIFT[variant])

    def conversation_ended(self, tier: str, converted: bool, experiment: str, variant: str) -> None:
        if converted:
            self.child("ngx_ab_conversions_total", experiment=experiment, variant=variant).inc()
            self.child("ngx_revenue_total", tier=tier, currency=CURRENCY).inc(TIER_PRICE[tier])
        # A roughly calibrated model: converted conversations were mostly given high probabilities.
        probability = self.rnd.betavariate(4, 3) if converted else self.rnd.betavariate(1, 12)
        self.child("ngx_conversion_prediction_probability", outcome="converted" if converted else "not_converted").observe(probability)
        self.child("ngx_conversation_duration_seconds", tier=tier).observe(self.rnd.uniform(*DURATION_RANGE))

    def request(self) -> None:
        for kind, cost in COST_PER_REQUEST.items():
            self.child("ngx_cost_total", kind=kind, currency=CURRENCY).inc(cost * self.rnd.uniform(0.5, 1.5))

    def tick(self) -> None:
        """The gauges, as a scrape would read them: drift per model and feature, and the pool."""
        for model in ("objection_prediction", "conversion_prediction", "tier_detection"):
            for feature in FEATURES:
                self.child("ngx_model_drift_score", model_name=model, feature=feature).set(round(self.rnd.uniform(0.01, 0.08), 3))
        used = self.rnd.randint(1, POOL_SIZE)  # a healthy pool: within pool_size, nobody waits
        self.child("db_client_connections_usage", pool_name=POOL_NAME, state="used").set(used)
        self.child("db_client_connections_usage", pool_name=POOL_NAME, state="idle").set(max(0, POOL_SIZE - used))
        self.child("db_client_connections_idle_max", pool_name=POOL_NAME).set(POOL_SIZE)
        self.child("db_client_connections_max", pool_name=POOL_NAME).set(POOL_SIZE + MAX_OVERFLOW)
        self.child("db_client_connections_pending_requests", pool_name=POOL_NAME).set(0)
