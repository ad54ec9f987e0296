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
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from newsbot.bot.draft import LiveDraft
from newsbot.bot.render import answer_html, citation_html, sources_html, split_message, text_html
from newsbot.bot.state import BotState, StoredAnswer
from newsbot.bot.voice import VoiceQuestions, VoiceRefused
from newsbot.corpus.store import Store, StoreError
from newsbot.ingest.feeds import FeedRefresh, due_feeds, feed_json, refresh_due, seed_feeds
from newsbot.ingest.fields import is_url
from newsbot.ingest.guard import RefusedURL, UnresolvedHost, check_url
from newsbot.ingest.pipeline import IngestReport, delete, ingest
from newsbot.links import PassageLinks
from newsbot.qa.chain import QA
from newsbot.qa.watches import Alert, WatchLimitError, recheck, watch_question
from newsbot.records import Citation, Filters
from newsbot.settings import Settings, TelegramSettings, parse_interval

logger = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("ask", "ask a question about the stored articles"),
    BotCommand("source", "show cited passage N of the last answer"),
    BotCommand("new", "start a new conversation"),
    BotCommand("help", "what I know and how to ask"),
    BotCommand("stats", "store statistics (admins)"),
    BotCommand("delete", "delete an article by id (admins)"),
    BotCommand("watch", "tell me when a new article answers a question"),
    BotCommand("watches", "your watched questions"),
    BotCommand("unwatch", "stop watching question N"),
    BotCommand("feeds", "feed subscriptions (admins)"),
    BotCommand("feed_add", "subscribe to a feed URL (admins)"),
    BotCommand("feed_remove", "unsubscribe from a feed URL (admins)"),
]
FEED_COMMANDS = ["feeds", "feed_add", "feed_remove"]
FEED_JOB = "refresh-feeds"
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
        self.voice_questions = VoiceQuestions(config, store.newest_titles)
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._refreshing = asyncio.Lock()
        self.checked_marker = store.articles_marker()  # what the watched questions were last asked against

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
        app.add_handler(TypeHandler(Update, self.claim), group=-1)
        app.add_handlers(
            [
                CommandHandler(["start", "help"], self.help, filters=served),
                CommandHandler("new", self.new, filters=served),
                CommandHandler("ask", self.ask_command, filters=served),
                CommandHandler("source", self.source, filters=served),
                CommandHandler("watch", self.watch, filters=served),
                CommandHandler("watches", self.watches, filters=served),
                CommandHandler("unwatch", self.unwatch, filters=served),
                CommandHandler("stats", self.stats, filters=admins),
                CommandHandler("delete", self.delete, filters=admins),
                CommandHandler("feeds", self.feeds, filters=admins),
                CommandHandler("feed_add", self.feed_add, filters=admins),
                CommandHandler("feed_remove", self.feed_remove, filters=admins),
                MessageHandler(filters.Document.ALL & admins, self.upload),
                MessageHandler(filters.TEXT & ~filters.COMMAND & served, self.text),
                MessageHandler((filters.VOICE | filters.AUDIO) & served, self.voice),
                CommandHandler("stats", self._admins_only("/stats is"), filters=served),
                CommandHandler("delete", self._admins_only("/delete is"), filters=served),
                CommandHandler(FEED_COMMANDS, self._admins_only("managing feeds is"), filters=served),
                MessageHandler(filters.Document.ALL & served, self._admins_only("adding articles is")),
                MessageHandler(~served, self.private),
                CallbackQueryHandler(self.sources_pressed, pattern=f"^{SOURCES_PREFIX}"),
            ]
        )
        app.add_error_handler(self.failed)
        if app.job_queue is not None:  # python-telegram-bot[job-queue]
            app.job_queue.run_repeating(self.refresh_feeds, interval=self.config.watch.poll, first=0, name=FEED_JOB)
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
        await asyncio.to_thread(seed_feeds, self.store, self.config)

    async def claim(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Before any handler: claim the update in the shared state, and drop one already claimed (a delivery
        retried by Telegram or a load balancer, here or on another replica): each update is answered once."""
        if not self.state.claim("update", str(update.update_id)):
            logger.info("update %s already taken: skipped", update.update_id)
            raise ApplicationHandlerStop

    # -- feeds --------------------------------------------------------------------------------------------
    async def refresh_feeds(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """JobQueue: refresh the due feeds in a worker thread, unless another process is writing the store
        (then the next run tries again: one writer at a time, as `newsbot watch` does); then the watches."""
        if self._refreshing.locked():
            return
        async with self._refreshing:
            try:
                results = await asyncio.to_thread(self._refresh_now)
            except StoreError as exc:
                logger.info("feeds not refreshed now: %s", exc)
                results = []
            for result in results:
                logger.info("feed %s: %s", result.url, result.error or f"{result.status}, {result.articles_new} new")
            await self._recheck_watches(context)

    async def _recheck_watches(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        """When articles changed (stored by this bot or any other process), ask the watched questions again and
        send each chat one message per watch that now cites a new article."""
        marker = await asyncio.to_thread(self.store.articles_marker)
        if marker == self.checked_marker:
            return
        if not self.state.claim("watches", repr(marker)):  # another replica rechecks these articles
            self.checked_marker = marker
            return
        try:
            watches = await asyncio.to_thread(self.store.watches, every_chat=True)
            chats = [w for w in watches if w.chat_id is not None]
            alerts = await asyncio.to_thread(recheck, self.store, self.qa, chats) if chats else []
        except Exception:
            self.state.release("watches", repr(marker))  # so that this replica's next run tries again
            raise
        for alert in alerts:
            try:
                await self._send_alert(context, alert)
            except TelegramError as exc:  # a chat that blocked the bot, say: the others still hear
                logger.warning("alert for chat %s not sent: %s", alert.watch.chat_id, exc)
        self.checked_marker = marker

    async def _send_alert(self, context: ContextTypes.DEFAULT_TYPE, alert: Alert) -> None:
        chat_id, question = alert.watch.chat_id or 0, alert.watch.question  # recheck is given chats' watches only
        key = self.state.save(chat_id, self.state.conversation(chat_id), question, alert.answer)
        titles = "; ".join(f"<i>{text_html(c.title)}</i>" for c in alert.new)
        heading = f"<b>New on your watched question</b> “{text_html(question)}” ({titles}):"
        html = f"{heading}\n\n{answer_html(alert.answer)}"

        async def send(piece: str, markup: InlineKeyboardMarkup | None) -> Message:
            return await context.bot.send_message(chat_id, piece, reply_markup=markup)

        await self._deliver(send, html, key, bool(alert.answer.citations))

    # -- watched questions --------------------------------------------------------------------------------
    async def watch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        asked = await _question_argument(update, context, "Watch like this: <code>/watch Who controls Derna?</code>")
        if asked is None:
            return
        message, question = asked
        try:
            await asyncio.to_thread(watch_question, self.store, self.qa, message.chat_id, question)
        except WatchLimitError as exc:
            await message.reply_text(f"Not watching: {text_html(str(exc))} with <code>/unwatch N</code>.")
            return
        await message.reply_text(
            f"Watching “{text_html(question)}”: I'll write when a new article answers it. "
            "<code>/watches</code> lists what you watch."
        )

    async def watches(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        watches = await asyncio.to_thread(self.store.watches, message.chat_id)
        if not watches:
            await message.reply_text("You watch no questions: <code>/watch QUESTION</code> adds one.")
            return
        lines = [f"{n}. {text_html(w.question)}" for n, w in enumerate(watches, 1)]
        await message.reply_text("\n".join([*lines, "", "<code>/unwatch N</code> stops watching one."]))

    async def unwatch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        watches = await asyncio.to_thread(self.store.watches, message.chat_id)
        args = context.args or []
        if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= len(watches):
            await message.reply_text(
                f"Use <code>/unwatch N</code> with N from 1 to {len(watches)} (<code>/watches</code>)."
            )
            return
        watch = watches[int(args[0]) - 1]
        await asyncio.to_thread(self.store.remove_watch, watch.id)
        await message.reply_text(f"No longer watching “{text_html(watch.question)}”.")

    def _refresh_now(self) -> list[FeedRefresh]:
        if not due_feeds(self.store):
            return []
        with self.store.writing() as store:
            return refresh_due(store)

    async def feeds(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        feeds = [feed_json(feed) for feed in await asyncio.to_thread(self.store.feeds)]
        if not feeds:
            await message.reply_text("No feeds yet: <code>/feed_add URL</code> subscribes to one.")
            return
        lines = []
        for feed in feeds:
            outcome = f"error: {feed['last_error']}" if feed["last_error"] else f"ok {feed['last_success'] or 'never'}"
            lines.append(
                f"• {text_html(feed['url'])}: every {feed['every_seconds'] / 60:g} min, {feed['articles_added']} "
                f"added, {text_html(outcome)}, next {feed['next_run']}"
            )
        for piece in split_message("\n".join(lines)):
            await message.reply_text(piece)

    async def feed_add(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        args = context.args or []
        if len(args) != 1 or not is_url(args[0]):
            await message.reply_text("Use <code>/feed_add https://example.org/feed.xml</code>.")
            return
        url = args[0]
        try:
            await asyncio.to_thread(check_url, url, self.config.ingest)
        except RefusedURL as exc:
            await message.reply_text(f"Not subscribed: {text_html(str(exc))}")
            return
        except UnresolvedHost:
            pass  # it may resolve later; each refresh checks again
        every = parse_interval(self.config.watch.every)
        new = await asyncio.to_thread(self.store.add_feed, url, every)
        state = "Subscribed to" if new else "Already subscribed to"
        await message.reply_text(f"{state} {text_html(url)}: refreshed every {every / 60:g} min, first soon.")

    async def feed_remove(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        args = context.args or []
        if len(args) != 1:
            await message.reply_text("Use <code>/feed_remove URL</code> (<code>/feeds</code> lists them).")
            return
        removed = await asyncio.to_thread(self.store.remove_feed, args[0])
        text = "Unsubscribed from {} (its articles stay)." if removed else "Not subscribed to {}."
        await message.reply_text(text.format(text_html(args[0])))

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
        asked = await _question_argument(update, context, "Ask like this: <code>/ask Who controls Derna?</code>")
        if asked is None:
            return
        message, question = asked
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
            if live is None:

                async def reply(piece: str, markup: InlineKeyboardMarkup | None) -> Message:
                    return await message.reply_text(piece, reply_markup=markup, do_quote=True)

                await self._deliver(reply, heard + answer_html(answer), key, bool(answer.citations))
                return
            button = InlineKeyboardMarkup([[InlineKeyboardButton("Sources", callback_data=SOURCES_PREFIX + key)]])
            sent = await live.finish(split_message(heard + answer_html(answer)), button if answer.citations else None)
            if sent is not None:
                self.state.attach_message(key, sent.message_id)

    async def _deliver(
        self,
        send: Callable[[str, InlineKeyboardMarkup | None], Awaitable[Message]],
        html: str,
        key: str,
        cited: bool,
    ) -> None:
        """Send a stored answer in as many messages as it takes, the Sources button under the last."""
        button = InlineKeyboardMarkup([[InlineKeyboardButton("Sources", callback_data=SOURCES_PREFIX + key)]])
        pieces = split_message(html)
        sent = None
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            sent = await send(piece, button if last and cited else None)
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
        """Anything from someone the allow-lists leave out: one polite refusal per chat (a day, from any
        replica), then silence."""
        chat, message = update.effective_chat, update.effective_message
        if chat is not None and message is not None and self.state.claim("refused", str(chat.id)):
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


async def _question_argument(
    update: Update, context: ContextTypes.DEFAULT_TYPE, usage: str
) -> tuple[Message, str] | None:
    """The command's message and the question written after the command; without one, ``usage`` is the reply."""
    message = update.effective_message
    if message is None:
        return None
    question = " ".join(context.args or [])
    if not question:
        await message.reply_text(usage)
        return None
    return message, question
