"""The words of the citizens' pages around the conversation, Vietnamese first, with English.

What the survey itself says (questions, consent, refusals) comes from the engine's
catalogue, as in the chats; these are only the page's own words.
"""

from __future__ import annotations

LANGUAGES = ("vi", "en")

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "app": "Khảo sát sự hài lòng",
        "skip": "Bỏ qua, tới nội dung chính",
        "switch_language": "English",
        "switch_language_label": "Switch to English",
        "landing_title": "Đánh giá sự hài lòng",
        "served_at": "Ông/Bà vừa giải quyết thủ tục tại",
        "runs": "Khảo sát do {controller} thực hiện, theo phương pháp SIPAS. "
        "Khảo sát không hỏi họ tên, số điện thoại hay số giấy tờ.",
        "choose": "Ông/Bà muốn trả lời ở đâu? (khoảng 3 phút)",
        "browser": "Trả lời ngay trên trình duyệt",
        "browser_hint": "Không cần cài ứng dụng.",
        "zalo": "Mở Zalo",
        "zalo_hint": "Rồi gửi mã khảo sát này cho Official Account:",
        "code": "Mã khảo sát",
        "code_hint": "Chạm vào mã để chọn, rồi sao chép.",
        "telegram": "Mở Telegram",
        "telegram_hint": "Telegram mở cuộc trò chuyện khảo sát.",
        "answer": "Ý kiến của Ông/Bà",
        "send": "Gửi ý kiến",
        "withdraw": "Xoá câu trả lời của tôi",
        "privacy": "Thông báo về dữ liệu cá nhân",
        "too_many": "Có quá nhiều lượt bắt đầu khảo sát từ mạng này. "
        "Ông/Bà vui lòng thử lại sau {minutes} phút.",
        "bad_request": "Trang này đã cũ. Ông/Bà vui lòng quay lại, tải lại trang và thử lại.",
        "kiosk_intro": "Ông/Bà vừa được phục vụ tại",
        "kiosk_ask": "Xin Ông/Bà dành khoảng 3 phút cho biết mức độ hài lòng.",
        "kiosk_start": "Bắt đầu khảo sát",
        "kiosk_note": "Máy dùng chung: khảo sát không hỏi Ông/Bà là ai, và màn hình tự trở về "
        "đầu sau 1 phút không dùng.",
        "kiosk_restart": "Về màn hình đầu",
        "kiosk_revoked": "Máy khảo sát này không còn hoạt động. "
        "Ông/Bà vui lòng báo cán bộ tại quầy.",
    },
    "en": {
        "app": "Satisfaction survey",
        "skip": "Skip to main content",
        "switch_language": "Tiếng Việt",
        "switch_language_label": "Chuyển sang tiếng Việt",
        "landing_title": "Rate our service",
        "served_at": "You have just been served at",
        "runs": "The survey is run by {controller}, after the SIPAS method. "
        "We never ask your name, phone number or ID number.",
        "choose": "Where would you like to answer? (about 3 minutes)",
        "browser": "Answer here in the browser",
        "browser_hint": "No app needed.",
        "zalo": "Open Zalo",
        "zalo_hint": "Then send this survey code to the Official Account:",
        "code": "Survey code",
        "code_hint": "Tap the code to select it, then copy it.",
        "telegram": "Open Telegram",
        "telegram_hint": "Telegram opens the survey chat.",
        "answer": "Your comment",
        "send": "Send comment",
        "withdraw": "Delete my answers",
        "privacy": "Personal data notice",
        "too_many": "Too many surveys were started from this network. "
        "Please try again in {minutes} minutes.",
        "bad_request": "This page is out of date. Please go back, reload the page and try again.",
        "kiosk_intro": "You have just been served at",
        "kiosk_ask": "Please take about 3 minutes to tell us how satisfied you are.",
        "kiosk_start": "Start the survey",
        "kiosk_note": "A shared tablet: the survey never asks who you are, and the screen goes "
        "back to the start after 1 minute without use.",
        "kiosk_restart": "Back to the start",
        "kiosk_revoked": "This survey tablet is no longer in use. "
        "Please tell the staff at the counter.",
    },
}
