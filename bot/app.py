"""The Telegram bot: thin python-telegram-bot handlers over the answering chain and the ingest pipeline.

Questions run in a worker thread (retrieval and the model are CPU-bound), so a slow question never blocks
other chats; a lock per chat keeps each chat's messages in order while updates are handled concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message, Update
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from newsbot.bot.draft import LiveDraft, reply_pieces
from newsbot.bot.render import answer_html, citation_html, sources_html, split_message, text_html
from newsbot.bot.state import BotState, StoredAnswer
from newsbot.bot.voice import VoiceQuestions, VoiceRefused
from newsbot.corpus.store import Store, StoreError
from newsbot.ingest.pipeline import IngestReport, delete, ingest
from newsbot.links import PassageLinks
from newsbot.qa.chain import QA
from newsbot.records import Citation, Filters
from newsbot.settings import Settings, TelegramSettings

logger = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("ask", "ask a question about the stored articles"),
    BotCommand("source", "show cited passage N of the last answer"),
    BotCommand("new", "start a new conversation"),
    BotCommand("help", "what I know and how to ask"),
    BotCommand("stats", "store statistics (admins)"),
    BotCommand("delete", "delete an article by id (admins)"),
]
UPLOAD_SUFFIXES = {".txt", ".md", ".html", ".htm", ".json", ".jsonl"}
_URL_ONLY = re.compile(r"^\s*(https?://\S+)\s*$")
SOURCES_PREFIX = "src:"
ALLOWED_UPDATES = ["message", "callback_query"]
OPEN_BUTTONS_PER_ROW = 3


class NewsBot:
    def __init__(self, config: Settings, store: Store, state: BotState, links: PassageLinks | None = None) -> None:
        """``links``: when given (``web.public_url`` is set), Sources messages carry an Open button per citation."""
        self.config = config
        self.settings = config.telegram
        self.store = store
        self.state = state
        self.links = links
        self.qa = QA(store, config)
        self.voice_questions = VoiceQuestions(config)
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._refused: set[int] = set()

    # -- wiring -------------------------------------------------------------------------------------------
    def application(self, token: str) -> Application:
        app = (
            ApplicationBuilder()
            .token(token)
            .base_url(self.settings.base_url)
            .base_file_url(self.settings.base_file_url)
            .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
            .rate_limiter(AIORateLimiter(max_retries=3))
            .concurrent_updates(True)
            .post_init(self.startup)
            .build()
        )
        served, admins = self._audiences()
        app.add_handlers(
            [
                CommandHandler(["start", "help"], self.help, filters=served),
                CommandHandler("new", self.new, filters=served),
                CommandHandler("ask", self.ask_command, filters=served),
                CommandHandler("source", self.source, filters=served),
                CommandHandler("stats", self.stats, filters=admins),
                CommandHandler("delete", self.delete, filters=admins),
                MessageHandler(filters.Document.ALL & admins, self.upload),
                MessageHandler(filters.TEXT & ~filters.COMMAND & served, self.text),
                MessageHandler((filters.VOICE | filters.AUDIO) & served, self.voice),
                CommandHandler("stats", self._admins_only("/stats is"), filters=served),
                CommandHandler("delete", self._admins_only("/delete is"), filters=served),
                MessageHandler(filters.Document.ALL & served, self._admins_only("adding articles is")),
                MessageHandler(~served, self.private),
                CallbackQueryHandler(self.sources_pressed, pattern=f"^{SOURCES_PREFIX}"),
            ]
        )
        app.add_error_handler(self.failed)
        return app

    def _audiences(self) -> tuple[filters.BaseFilter, filters.BaseFilter]:
        """Who is served (everyone, unless allowed_users or allowed_chats is set; admins always) and who is an
        admin, as python-telegram-bot filters: every handler is gated once, where it is registered."""
        settings = self.settings
        admins = filters.User(user_id=settings.admins)
        if not settings.allowed_users and not settings.allowed_chats:
            return filters.ALL, admins
        served = filters.User(user_id=(*settings.allowed_users, *settings.admins)) | filters.Chat(
            chat_id=settings.allowed_chats
        )
        return served, admins

    async def startup(self, app: Application) -> None:
        """Register the command menu (post_init under run_polling / run_webhook; tests call it directly)."""
        await app.bot.set_my_commands(COMMANDS)

    # -- questions ----------------------------------------------------------------------------------------
    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        url = _URL_ONLY.match(message.text)
        if url and self._is_admin(update):
            await self._ingest(message, [url.group(1)], url.group(1))
            return
        replied = self._replied_answer(message)
        if message.chat.type != ChatType.PRIVATE and replied is None and not self._mentioned(message, context):
            return
        question = self._strip_mention(message.text, context)
        conversation = (
            replied.conversation
            if replied
            else (
                self.state.conversation(message.chat_id)
                if message.chat.type == ChatType.PRIVATE
                else self.state.new_conversation(message.chat_id)
            )
        )
        await self._answer(message, question, conversation, context)

    async def ask_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        question = " ".join(context.args or [])
        if not question:
            await message.reply_text("Ask like this: <code>/ask Who controls Derna?</code>")
            return
        replied = self._replied_answer(message)
        conversation = replied.conversation if replied else self.state.conversation(message.chat_id)
        await self._answer(message, question, conversation, context)

    async def voice(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A voice note or audio file is a question (in a group: one replying to an answer)."""
        message = update.effective_message
        if message is None:
            return
        replied = self._replied_answer(message)
        if message.chat.type != ChatType.PRIVATE and replied is None:
            return
        conversation = replied.conversation if replied else self.state.conversation(message.chat_id)
        await self._answer(message, None, conversation, context)

    async def _answer(
        self, message: Message, question: str | None, conversation: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """``question`` None: the message's recording, transcribed in the chat's turn (answers stay in order);
        the reply then opens with what was heard."""
        async with self._locks[message.chat_id]:
            await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
            heard = ""
            if question is None:
                try:
                    question = await self.voice_questions.transcript(message, context.bot)
                except VoiceRefused as exc:
                    await message.reply_text(str(exc), do_quote=True)
                    return
                heard = f"Heard: «{text_html(question)}»\n\n"
            history = self.state.history(conversation)
            as_of = Filters(as_of=message.date.astimezone(UTC).date().isoformat())  # the day it was asked
            live = LiveDraft(message, heard) if self.qa.llm is not None else None  # an LLM's words as they come
            on_text = live.update if live is not None else None
            try:
                answer, _ = await asyncio.to_thread(self.qa.ask, question, history, as_of, on_text)
            except Exception:
                if live is not None:
                    await live.withdraw()
                raise
            key = self.state.save(message.chat_id, conversation, question, answer)
            button = InlineKeyboardMarkup([[InlineKeyboardButton("Sources", callback_data=SOURCES_PREFIX + key)]])
            markup = button if answer.citations else None
            pieces = split_message(heard + answer_html(answer))
            sent = await (live.finish(pieces, markup) if live else reply_pieces(message, pieces, markup))
            if sent is not None:
                self.state.attach_message(key, sent.message_id)

    # -- sources ------------------------------------------------------------------------------------------
    async def sources_pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        stored = self.state.by_key(query.data.removeprefix(SOURCES_PREFIX)) if query and query.data else None
        if stored is None:
            await query.answer("That answer is no longer stored.", show_alert=True)
            return
        await query.answer()
        pieces = split_message(sources_html(stored.citations))
        for index, piece in enumerate(pieces):
            await context.bot.send_message(
                stored.chat_id,
                piece,
                reply_to_message_id=query.message.message_id if query.message else None,
                reply_markup=self._open_buttons(stored.citations) if index == len(pieces) - 1 else None,
            )

    async def source(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        stored = self._replied_answer(message) or self.state.latest(message.chat_id)
        args = context.args or []
        if stored is None:
            await message.reply_text("Ask a question first; then <code>/source 1</code> shows its first source.")
            return
        if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= len(stored.citations):
            await message.reply_text(f"Use <code>/source N</code> with N from 1 to {len(stored.citations)}.")
            return
        citation = stored.citations[int(args[0]) - 1]
        pieces = split_message(citation_html(citation))
        for index, piece in enumerate(pieces):
            markup = self._open_buttons([citation]) if index == len(pieces) - 1 else None
            await message.reply_text(piece, reply_markup=markup)

    def _open_buttons(self, citations: Sequence[Citation]) -> InlineKeyboardMarkup | None:
        """An "Open [n]" URL button per citation, to its signed passage page (when web.public_url is set)."""
        if self.links is None or not citations:
            return None
        buttons = [
            InlineKeyboardButton(f"Open [{c.n}]", url=self.links.url(c.article_id, c.start, c.end, c.quote))
            for c in citations
        ]
        rows = [buttons[i : i + OPEN_BUTTONS_PER_ROW] for i in range(0, len(buttons), OPEN_BUTTONS_PER_ROW)]
        return InlineKeyboardMarkup(rows)

    # -- conversation and help ----------------------------------------------------------------------------
    async def new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            self.state.new_conversation(message.chat_id)
            await message.reply_text("New conversation: earlier questions no longer count.")

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        stats = await asyncio.to_thread(self.store.summary)
        sources = ", ".join(list(stats["sources"])[:8]) or "none yet"
        await message.reply_text(
            f"I answer questions about {stats['articles']} news articles "
            f"({stats['first_published'] or '?'} to {stats['last_published'] or '?'}; sources: {sources}), "
            "quoting the passages I rely on.\n\n"
            "Ask in plain words, e.g. <i>Who controls Derna?</i> In groups, mention me or use "
            "<code>/ask</code>. Reply to one of my answers to follow up; <code>/new</code> starts over. "
            "Press <b>Sources</b> under an answer, or send <code>/source N</code>, to read the cited passages."
        )

    # -- admin --------------------------------------------------------------------------------------------
    async def upload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.document is None:
            return
        name = Path(message.document.file_name or "upload.txt").name
        if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
            await message.reply_text(f"I can ingest {', '.join(sorted(UPLOAD_SUFFIXES))} files, not {name}.")
            return
        # One path per chat and file name, so the article's key is too: a corrected upload updates the article
        # instead of adding another beside it. The folder names the source ("chat-<id>", for delete --source).
        folder = self.store.path / "uploads" / f"chat-{message.chat_id}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        telegram_file = await context.bot.get_file(message.document.file_id)
        await telegram_file.download_to_drive(path)
        try:
            await self._ingest(message, [str(path)], name)
        finally:
            path.unlink(missing_ok=True)

    async def _ingest(self, message: Message, inputs: list[str], label: str) -> None:
        await message.chat.send_action(ChatAction.TYPING)
        try:
            report = await asyncio.to_thread(self._ingest_now, inputs)
        except StoreError as exc:
            await message.reply_text(f"Could not ingest now: {text_html(str(exc))}")
            return
        await message.reply_text(ingest_summary(label, report))

    def _ingest_now(self, inputs: list[str]) -> IngestReport:
        with self.store.writing() as store:
            return ingest(inputs, store)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        stats = await asyncio.to_thread(self.store.stats)
        await message.reply_text(
            f"{stats['articles']} articles, {stats['chunks']} passages, {len(stats['sources'])} sources, "
            f"published {stats['first_published'] or '?'} to {stats['last_published'] or '?'}; "
            f"model {text_html(stats['model'])}; store {stats['size_bytes'] / 1e6:.1f} MB"
        )

    async def delete(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        if len(context.args or []) != 1:
            await message.reply_text("Use <code>/delete ARTICLE_ID</code>.")
            return
        articles, chunks = await asyncio.to_thread(self._delete_now, context.args[0])
        text = (
            f"Deleted article {text_html(context.args[0])} ({chunks} passages)."
            if articles
            else f"No stored article has id {text_html(context.args[0])}."
        )
        await message.reply_text(text)

    def _delete_now(self, article_id: str) -> tuple[int, int]:
        with self.store.writing() as store:
            return delete(store, article_id=article_id)

    # -- errors and gates ---------------------------------------------------------------------------------
    async def failed(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("update failed: %s", update, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            await update.effective_message.reply_text("Sorry, something went wrong with that. Please try again.")

    async def private(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything from someone the allow-lists leave out: one polite refusal per chat, then silence."""
        chat, message = update.effective_chat, update.effective_message
        if chat is not None and chat.id not in self._refused:
            self._refused.add(chat.id)
            if message is not None:
                await message.reply_text("Sorry, this bot is private.")

    def _admins_only(self, what: str) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
        async def refuse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            if update.effective_message is not None:
                await update.effective_message.reply_text(f"Sorry, {what} only for the bot's admins.")

        return refuse

    def _is_admin(self, update: Update) -> bool:
        return update.effective_user is not None and update.effective_user.id in self.settings.admins

    def _replied_answer(self, message: Message) -> StoredAnswer | None:
        reply = message.reply_to_message
        if reply is None or reply.from_user is None or not reply.from_user.is_bot:
            return None
        return self.state.by_message(message.chat_id, reply.message_id)

    @staticmethod
    def _mentioned(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        username = f"@{context.bot.username}".lower()
        mentions = message.parse_entities([MessageEntityType.MENTION]).values()
        return any(m.lower() == username for m in mentions)

    @staticmethod
    def _strip_mention(text: str, context: ContextTypes.DEFAULT_TYPE) -> str:
        return re.sub(rf"@{re.escape(context.bot.username)}\b", "", text, flags=re.IGNORECASE).strip()


def webhook_options(settings: TelegramSettings, secret: str | None) -> dict[str, object]:
    """Arguments for PTB's run_webhook / start_webhook: listen locally, tell Telegram the public URL, and
    accept only requests carrying the secret token (from TELEGRAM_WEBHOOK_SECRET)."""
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": urlsplit(settings.webhook_url).path.lstrip("/"),
        "webhook_url": settings.webhook_url,
        "secret_token": secret or None,
        "allowed_updates": ALLOWED_UPDATES,
    }


def ingest_summary(label: str, report: IngestReport) -> str:
    lines = [
        f"Ingested {text_html(label)}: {report.articles_new} new, {report.articles_updated} updated, "
        f"{report.articles_unchanged + report.articles_duplicate} unchanged, {report.articles_failed} failed "
        f"({report.chunks_added} passages added)."
    ]
    lines.extend(f"• {text_html(f['input'])}: {text_html(f['error'])}" for f in report.failures[:10])
    return "\n".join(lines)
