"""The workflow rules hold over any sequence of operations (in-memory store)."""

from hypothesis import settings

from dli.adapters.stores.memory import InMemorySpecStore
from tests.support.state_machine import workflow_machine

InMemoryMachine = workflow_machine(InMemorySpecStore)
InMemoryMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestWorkflowStateMachineInMemory = InMemoryMachine.TestCase
