from __future__ import annotations

from dataclasses import dataclass

import pytest

from adapters.memory.agents import MemoryAgentRepository
from adapters.memory.conversations import MemoryConversationRepository
from adapters.memory.visitors import MemoryVisitorRepository
from application.agents import AgentService
from application.chat import ChatLimits, ChatService
from application.conversations import ConversationQueries
from application.prompt import PromptBudget
from tests.fakes.chat_model import ScriptedChatModel
from tests.fakes.retriever import FixedRetriever


@dataclass
class World:
    agents: MemoryAgentRepository
    visitors: MemoryVisitorRepository
    conversations: MemoryConversationRepository
    retriever: FixedRetriever
    model: ScriptedChatModel
    chat: ChatService
    agent_service: AgentService
    queries: ConversationQueries


@pytest.fixture
async def world() -> World:
    agents, visitors, conversations = (
        MemoryAgentRepository(),
        MemoryVisitorRepository(),
        MemoryConversationRepository(),
    )
    retriever, model = FixedRetriever(), ScriptedChatModel()
    chat = ChatService(
        agents, visitors, conversations, retriever, model, ChatLimits(200, PromptBudget(history_tokens=60))
    )
    agent_service = AgentService(agents)
    await agent_service.ensure_default()
    return World(
        agents,
        visitors,
        conversations,
        retriever,
        model,
        chat,
        agent_service,
        ConversationQueries(conversations, visitors, agents),
    )
