"""A dialogue policy for one failure: the transfer action did not run.

When the action server is away, Rasa 3.6 logs the failed custom action,
drops its events ("Bot will continue, but the actions events are lost") and
goes on predicting: the conversation is not paused and, by the rules, the
bot would fall silent. This policy notices that the last event is the
transfer action itself (a transfer that ran always adds events after it)
and answers ``utter_transfer_pending``: the customer is told to wait. The
event broker carries that bot message to the handoff service, which asks
Rasa to run the transfer again (``EXTERNAL_retry_handoff``) until it is made.
A failed retry stays silent, so the customer hears it once.

Register in config.yml, above the RulePolicy's priority (6).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.policies.policy import Policy, PolicyPrediction, confidence_scores_for
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

TRANSFER_ACTIONS = {"action_start_attendance", "action_route_message"}
RETRY_INTENT = "EXTERNAL_retry_handoff"
PENDING_RESPONSE = "utter_transfer_pending"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class PendingTransferPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"priority": 7}

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        # Nothing to learn; the (empty) resource lets Rasa load the policy.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        action = _next_action(tracker)
        if action is None:
            return self._prediction(self._default_predictions(domain))
        return self._prediction(confidence_scores_for(action, 1.0, domain))


def _next_action(tracker: DialogueStateTracker) -> Optional[str]:
    """``utter_transfer_pending`` right after a transfer action that left no
    events (then listen); None when this policy has nothing to say."""
    last = tracker.events[-1] if tracker.events else None
    if isinstance(last, ActionExecuted) and last.action_name in TRANSFER_ACTIONS:
        retrying = (tracker.latest_message.intent or {}).get("name") == RETRY_INTENT
        return ACTION_LISTEN_NAME if retrying else PENDING_RESPONSE
    if tracker.latest_action_name == PENDING_RESPONSE:
        return ACTION_LISTEN_NAME
    return None
