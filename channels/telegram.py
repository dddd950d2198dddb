"""The Telegram channel: python-telegram-bot updates in as `Inbound` events, survey replies out.

Survey state lives in the database behind the engine, never in this process: no
ConversationHandler, no PTB persistence. The adapter only translates, and on a
button tap edits the question message in place so the chat stays short; the keyboards
a new step supersedes lose their buttons (`telegram_screen`), their messages kept in
the database (`storage.live_keyboards`), so a chat shows one live keyboard.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeAlias

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from channels.telegram_delivery import PerChatUpdateProcessor, RetryingRateLimiter, call
from channels.telegram_http import bot_api_request
from channels.telegram_render import locale_of, notice_of, start_payload
from channels.telegram_screen import send, show
from handlers.events import Command, Inbound, InboundKind, Reply, Surface, command_named
from handlers.staff import STAFF_COMMANDS, StaffCommands
from storage.invitations import PAYLOAD_PATTERN, telegram_link
from storage.live_keyboards import LiveKeyboards

__all__ = [
    "ALLOWED_UPDATES",
    "CHANNEL",
    "SURFACE",
    "TELEGRAM_API_URL",
    "SurveyEngine",
    "TelegramApplication",
    "TelegramChannel",
    "UpdateFailed",
    "build_application",
]

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SURFACE = Surface(buttons=True, numbers=False)  # inline keyboards; the numbers are never shown
TELEGRAM_API_URL = "https://api.telegram.org/bot"
MAX_CAPTION_LENGTH = 1024  # Telegram refuses longer photo and document captions
POLL_TIMEOUT_SECONDS = 10.0
# Only what the survey uses: edited messages, channel posts and member changes never arrive.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
KNOWN_CHATS = 10_000  # chats whose live keyboards a process remembers (a few hundred bytes each)

PRIVATE_CHAT_ONLY = (
    "Khảo sát chỉ thực hiện trong trò chuyện riêng với bot: bấm nút dưới đây.\n"
    "The survey works only in a private chat with the bot: tap the button below."
)
PRIVATE_CHAT_BUTTON = "Mở trò chuyện riêng · Open the private chat"
PRIVATE_CHAT_ONLY_NOTICE = "Chỉ trong trò chuyện riêng / Private chat only"
TRY_AGAIN = (
    "Xin lỗi, đã có lỗi. Vui lòng thử lại sau ít phút.\n"
    "Sorry, something went wrong. Please try again in a few minutes."
)
TRY_AGAIN_NOTICE = (
    "Có lỗi, xin bấm lại sau ít phút / Something went wrong, please tap again shortly"
)

TelegramApplication: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
Context: TypeAlias = ContextTypes.DEFAULT_TYPE


WebhookReply: TypeAlias = dict[str, Any]  # one Bot API method, as Telegram reads it from an answer


@dataclass
class _WebhookUpdate:
    """What processing one webhook update leaves for its HTTP answer."""

    errors: list[BaseException] = field(default_factory=list)
    reply: WebhookReply | None = None


class UpdateFailed(Exception):
    """A webhook update whose processing failed: the route answers 500, and Telegram delivers
    it again (the engine committed nothing of it, its processed-event mark included)."""


class SurveyEngine(Protocol):
    """What the adapter needs of the survey engine (handlers.survey.SurveyEngine)."""

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Replies to one event; [] for a duplicate delivery."""
        ...


def build_application(
    token: str,
    *,
    base_url: str = TELEGRAM_API_URL,
    polling: bool = True,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: BaseRateLimiter[int] | None = None,
) -> TelegramApplication:
    """A PTB Application for `token` at `base_url` (Telegram's, a local Bot API server, a fake).

    With `polling=False` there is no Updater: updates come from the web app's
    webhook route. `request` replaces the HTTP layer of the bot's calls (tests record calls
    with it); by default it is `channels.telegram_http`'s (long polling keeps
    python-telegram-bot's own).
    """
    # Before building: the bot logs its API URL, token included, at DEBUG as it is made.
    _keep_library_logs_anonymous()
    builder = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .job_queue(None)
        .rate_limiter(rate_limiter or RetryingRateLimiter())
        .concurrent_updates(PerChatUpdateProcessor())
    )
    request = request or bot_api_request(base_url)
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if not polling:
        builder = builder.updater(None)
    return builder.build()


class TelegramChannel:
    """The survey over Telegram: one PTB Application, updates turned into `Inbound` events."""

    def __init__(
        self,
        application: TelegramApplication,
        engine: SurveyEngine,
        *,
        staff: StaffCommands | None = None,
        keyboards: LiveKeyboards | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`keyboards` keeps which messages carry live keyboards (without it, only the tapped
        one is known, and a keyboard superseded by typed text stays live)."""
        self.application = application
        self._engine = engine
        self._staff = staff
        self._keyboards = keyboards
        self._clock = clock
        # The live keyboards this process last showed, per chat: a tap on the only one needs
        # no look in the database (the common case). Another worker that showed a step since
        # has taken that keyboard's buttons away, so it cannot be tapped; a tap on anything
        # else, or typed text, looks there.
        self._known: OrderedDict[int, list[int]] = OrderedDict()
        self._connected = False
        # Each webhook update being processed, by update id: its errors (the error handler is
        # where python-telegram-bot reports them, and it does not raise them further) and the
        # tap's answer, which goes back in the webhook's HTTP answer.
        self._webhook: dict[int, _WebhookUpdate] = {}
        _keep_library_logs_anonymous()  # also for an application not made by build_application
        # Group -1 runs first: anything outside a private chat stops there.
        application.add_handler(TypeHandler(Update, self.private_chats_only), group=-1)
        message = filters.UpdateType.MESSAGE
        application.add_handler(CommandHandler("start", self.start, filters=message))
        application.add_handler(MessageHandler(message & filters.COMMAND, self.command))
        application.add_handler(CallbackQueryHandler(self.choice))
        application.add_handler(MessageHandler(message & filters.TEXT, self.text))
        application.add_handler(MessageHandler(message, self.not_text))
        application.add_error_handler(self.log_error)

    # --- lifecycle -------------------------------------------------------------------------

    async def launch(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        poll_timeout: float = POLL_TIMEOUT_SECONDS,
    ) -> None:
        """Connect (getMe), then either register the webhook or start long polling."""
        application = self.application
        await self.connect()
        if webhook_url is not None:
            await application.bot.set_webhook(
                webhook_url, secret_token=webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
            log.info("Telegram: webhook registered, updates arrive at the web app")
        else:
            assert application.updater is not None, "build the application with polling=True"
            # start_polling removes any webhook first; pending updates are kept: they are answers.
            await application.updater.start_polling(
                timeout=timedelta(seconds=poll_timeout), allowed_updates=ALLOWED_UPDATES
            )
            log.info("Telegram: long polling")
        await application.start()

    async def connect(self) -> None:
        """Connect to Telegram (getMe, which checks the token): updates can be processed then."""
        await self.application.initialize()
        self._connected = True

    def ready(self) -> bool:
        """Whether updates can be processed: connected, and not closed since."""
        return self._connected

    async def close(self) -> None:
        """Stop polling and the update processing, then close the HTTP connections.

        The webhook is left registered: Telegram keeps the updates of a restart queued.
        """
        self._connected = False
        application = self.application
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        # After a failed start the application never counted as initialized, yet the
        # bot's HTTP clients were opened: close them too (a no-op otherwise).
        await application.bot.shutdown()

    async def process_webhook_update(self, data: dict[str, Any]) -> WebhookReply | None:
        """Handle one update delivered to the webhook, in order with its chat's other updates;
        what the webhook answers Telegram with: a button tap's answer, or None.

        Telegram carries out one Bot API method given in the answer to its POST, so a tap
        is answered there instead of by a call of its own: half the Bot API calls of a
        survey. Whether that answer took effect is never known, as for a late answer
        (harmless: the button stops spinning anyway after a while).
        """
        application = self.application
        try:
            update = Update.de_json(data, application.bot)
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            # It would not parse on a redelivery either: drop it rather than fail forever.
            log.warning("unreadable Telegram update dropped (%s)", type(error).__name__)
            return None
        pending = self._webhook[update.update_id] = _WebhookUpdate()
        try:
            await application.update_processor.process_update(
                update, application.process_update(update)
            )
        finally:
            del self._webhook[update.update_id]
        if pending.errors:
            if pending.reply is not None:
                # The route answers 500, whose body Telegram ignores: answer the tap by a call.
                reply = pending.reply
                await _answer_now(application.bot, reply["callback_query_id"], reply.get("text"))
            raise UpdateFailed(f"Telegram update {update.update_id} failed") from pending.errors[0]
        return pending.reply

    async def send(self, chat: str, replies: list[Reply]) -> None:
        """Send `replies` to a chat unprompted (a reminder to finish): always as new messages,
        the step they show taking the place of the one shown before."""
        await self._show(int(chat), replies, tapped=None)

    # --- handlers --------------------------------------------------------------------------

    async def private_chats_only(self, update: Update, context: Context) -> None:
        """Refuse politely outside a private chat, with one reply and a button that opens the
        private chat (the survey's start payload carried over); nothing from a group reaches
        the engine."""
        chat = update.effective_chat
        if chat is not None and chat.type == chat.PRIVATE:
            return
        if update.callback_query is not None:
            await self._answer(update, PRIVATE_CHAT_ONLY_NOTICE)
        elif update.message is not None and (update.message.text or "").startswith("/"):
            # Only commands get an answer: a bot that may read a group must not chatter in it.
            word, *arguments = (update.message.text or "").split()
            payload = start_payload(arguments) if word.split("@")[0] == "/start" else ""
            link = f"https://t.me/{context.bot.username}"
            if PAYLOAD_PATTERN.match(payload):
                link = telegram_link(context.bot.username, payload)
            button = InlineKeyboardButton(PRIVATE_CHAT_BUTTON, url=link)
            await update.message.reply_text(
                PRIVATE_CHAT_ONLY, reply_markup=InlineKeyboardMarkup([[button]])
            )
        raise ApplicationHandlerStop

    async def start(self, update: Update, context: Context) -> None:
        """`/start [payload]`: start or resume from a counter token or an invitation."""
        await self._converse(update, InboundKind.START, start_payload(context.args))

    async def command(self, update: Update, context: Context) -> None:
        """`/help`, `/language`, `/cancel`, `/delete`, `/privacy` and their Vietnamese names
        (`/huongdan`, `/xoa`, …); an unknown command is taken as /help."""
        assert update.message is not None
        word, *arguments = (update.message.text or "/").split()
        name = word.removeprefix("/").split("@")[0].lower()
        # A MessageHandler gets no context.args: the arguments are read from the text.
        if await self._staff_command(update, name, arguments):
            return
        command = command_named(name) or Command.HELP
        await self._converse(update, InboundKind.COMMAND, command.value)
        if command is Command.HELP:
            await self._staff_help(update)

    async def _staff_help(self, update: Update) -> None:
        """After /help, the staff commands too, for enrolled staff only."""
        user = update.effective_user
        if self._staff is None or user is None or update.message is None:
            return
        found = await self._staff.help_text(CHANNEL, str(user.id), locale=locale_of(user))
        if found is not None:
            await send(update.get_bot(), update.message.chat_id, Reply(found))

    async def _staff_command(self, update: Update, name: str, arguments: list[str]) -> bool:
        """Answer a staff command from enrolled staff; False for anyone else, who then gets
        exactly the reply of an unknown command, so the staff side stays invisible."""
        user = update.effective_user
        if self._staff is None or name not in STAFF_COMMANDS or user is None:
            return False
        replies = await self._staff.handle(
            CHANNEL, str(user.id), name, arguments, locale=locale_of(user)
        )
        if replies is None:
            return False
        assert update.message is not None
        chat_id = update.message.chat_id
        bot = update.get_bot()
        for reply in replies:
            caption = reply.text[:MAX_CAPTION_LENGTH]
            try:
                if reply.image is not None:
                    await bot.send_photo(chat_id, photo=reply.image, caption=caption)
                elif reply.document is not None:
                    document = InputFile(reply.document, filename=reply.filename)
                    await bot.send_document(chat_id, document=document, caption=caption)
                else:
                    await send(bot, chat_id, reply)
            except TelegramError:
                if reply.fallback is None:
                    raise
                # The picture or file did not go through: say where to download it instead.
                await send(bot, chat_id, Reply(reply.fallback))
        return True

    async def choice(self, update: Update, context: Context) -> None:
        """A button tap: its callback data is the choice."""
        assert update.callback_query is not None
        await self._converse(update, InboundKind.CHOICE, update.callback_query.data or "")

    async def text(self, update: Update, context: Context) -> None:
        """Typed text: the comment, or a choice typed instead of tapped."""
        assert update.message is not None
        await self._converse(update, InboundKind.TEXT, update.message.text or "")

    async def not_text(self, update: Update, context: Context) -> None:
        """A photo, sticker, voice note...: the survey takes only taps and text, and says so."""
        await self._converse(update, InboundKind.UNSUPPORTED, "")

    async def log_error(self, update: object, context: Context) -> None:
        """Log a failed update by its id and the error only: never who sent it; a webhook
        update's error is kept for `process_webhook_update` to raise."""
        update_id = update.update_id if isinstance(update, Update) else None
        error = context.error
        pending = self._webhook.get(update_id) if update_id is not None else None
        if pending is not None and error is not None:
            pending.errors.append(error)
        log.error(
            "Telegram update %s failed: %s",
            update_id,
            type(error).__name__,
            exc_info=error,
        )

    # --- one event through the engine -------------------------------------------------------

    async def _converse(self, update: Update, kind: InboundKind, payload: str) -> None:
        chat = update.effective_chat
        assert chat is not None
        inbound = Inbound(
            channel=CHANNEL,
            chat=str(chat.id),
            event_id=str(update.update_id),
            kind=kind,
            payload=payload,
            locale=locale_of(update.effective_user),
            surface=SURFACE,
        )
        query = update.callback_query
        try:
            replies = await self._engine.handle(inbound)
        except Exception:
            # Nothing was committed: the respondent may tap or type again, and a webhook update
            # is delivered again too once raised (the error handler logs it).
            if query is not None:
                # The tapped keyboard stays as it was: tapping it again is the retry.
                await self._answer(update, TRY_AGAIN_NOTICE)
            else:
                await send(update.get_bot(), chat.id, Reply(TRY_AGAIN))
            raise
        tapped = None
        if query is not None:
            # Answered before showing: the button stops spinning whatever happens next (a
            # webhook update's answer goes even when showing fails: process_webhook_update).
            await self._answer(update, notice_of(replies))
            tapped = query.message.message_id if isinstance(query.message, Message) else None
        if replies:  # none for a duplicate delivery: the first one showed everything
            await self._show(chat.id, replies, tapped=tapped)

    async def _answer(self, update: Update, notice: str | None) -> None:
        """Answer the update's button tap: in the webhook's answer for a webhook update, else
        by a call of its own."""
        assert update.callback_query is not None
        query_id = update.callback_query.id
        pending = self._webhook.get(update.update_id)
        if pending is None:
            await _answer_now(self.application.bot, query_id, notice)
            return
        pending.reply = {"method": "answerCallbackQuery", "callback_query_id": query_id}
        if notice is not None:
            pending.reply["text"] = notice

    async def _show(self, chat_id: int, replies: list[Reply], *, tapped: int | None) -> None:
        """Show `replies` in the chat; the keyboards they supersede lose their buttons."""
        bot = self.application.bot
        if self._keyboards is None:
            await show(bot, chat_id, replies, tapped=tapped)
            return
        live = self._known.get(chat_id)
        if tapped is None or live != [tapped]:
            live = await self._keyboards.of(str(chat_id))
        now_live = await show(bot, chat_id, replies, tapped=tapped, live=live)
        if now_live != live:
            await self._keyboards.keep(str(chat_id), now_live, self._clock())
        self._known[chat_id] = now_live
        self._known.move_to_end(chat_id)
        if len(self._known) > KNOWN_CHATS:
            self._known.popitem(last=False)


def _keep_library_logs_anonymous() -> None:
    """python-telegram-bot logs whole updates (user ids, names, texts) at DEBUG: stay above it,
    whatever level the operator chose for the service's own logs."""
    logger = logging.getLogger("telegram")
    if logger.getEffectiveLevel() < logging.INFO:
        logger.setLevel(logging.INFO)


async def _answer_now(bot: Bot, query_id: str, notice: str | None) -> None:
    """Answer a callback query by a call of its own; a late answer is harmless, so its failure
    is only logged."""
    try:
        await call(bot, "answerCallbackQuery", callback_query_id=query_id, text=notice)
    except TelegramError as error:
        log.info("answering a button tap failed (%s)", type(error).__name__)
