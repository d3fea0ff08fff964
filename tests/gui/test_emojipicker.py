"""The emoji picker (ocm_gui/chat/emojipicker.py): opened by the composer's button or Ctrl+E,
typing filters, the arrows move, Enter or a click picks and puts the emoji at the input's
cursor, Escape closes without one; the choice comes first the next time, kept in the settings."""

from __future__ import annotations

from gui_helpers import FakeClient, pump

from ocm_core import i18n
from ocm_core.sansio.emojinames import Group
from ocm_gui import theme
from ocm_gui.chat.emojipicker import RECENT, Row, Section, grid_rows, open_emoji_picker, step
from ocm_gui.settings import Settings
from ocm_gui.text.emoji import EMOJI_TAG


def open_from_button(root, chat):
    chat.composer.emoji_button.invoke()
    picker = pump(root, lambda: chat.composer.emoji_picker, what="the picker")
    pump(root, lambda: picker.win.winfo_viewable() and picker.win.focus_get() is picker.entry, what="its search field")
    return picker


def type_into(root, widget, text: str) -> None:
    """Key presses, one a character (ASCII: keysyms are the letters)."""
    for char in text:
        widget.event_generate("<KeyPress>", keysym="space" if char == " " else char)
    root.update()


def press(root, widget, keysym: str) -> None:
    widget.event_generate(f"<KeyPress-{keysym}>")
    root.update()


def input_text(chat) -> str:
    return chat.input.get("1.0", "end-1c")


def test_a_search_and_enter_put_the_emoji_at_the_inputs_cursor(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob")))
    chat.input.insert("1.0", "lunch? yes")
    chat.input.mark_set("insert", "1.6")  # after "lunch?"
    picker = open_from_button(root, chat)
    type_into(root, picker.entry, "sushi")
    assert picker.emoji[0] == "🍣" and picker.shown_name() == "sushi"
    press(root, picker.entry, "Return")
    pump(root, lambda: picker.closed and root.focus_get() is chat.input, what="the input focused again")
    assert input_text(chat) == "lunch?🍣 yes"
    assert chat.input.get("insert - 1 chars", "insert") == "🍣"  # the cursor after it, to go on typing
    tagged = chat.input.tag_ranges(EMOJI_TAG)
    assert [chat.input.get(a, b) for a, b in zip(tagged[::2], tagged[1::2])] == ["🍣"]  # drawn in the emoji font
    assert chat.composer.emoji_picker is None


def test_escape_closes_without_putting_anything_in(root, make_chat, settings):
    chat = make_chat()
    chat.input.insert("1.0", "hello")
    picker = open_from_button(root, chat)
    type_into(root, picker.entry, "cat")
    press(root, picker.entry, "Escape")
    pump(root, lambda: picker.closed and root.focus_get() is chat.input, what="the input focused again")
    assert input_text(chat) == "hello" and not picker.win.winfo_exists()
    assert settings.recent_emoji == []


def test_the_last_choice_comes_first_next_time_and_is_kept_in_the_settings(root, make_chat, settings):
    chat = make_chat()
    picker = open_from_button(root, chat)
    assert [section.key for section in picker.sections][0] != RECENT  # nothing chosen yet
    type_into(root, picker.entry, "tada")
    press(root, picker.entry, "Return")
    pump(root, lambda: picker.closed)
    assert input_text(chat) == "🎉"
    assert Settings.load(settings.path).recent_emoji == ["🎉"]  # on disk, for the next start

    again = open_from_button(root, chat)
    assert again.sections[0] == Section(RECENT, ("🎉",)) and again.emoji[0] == "🎉"
    assert again.chosen == 0 and again.shown_name() == "party popper"
    type_into(root, again.entry, "p")  # 🎉 "party popper" among many: first, as chosen last
    assert again.emoji[0] == "🎉"
    again.close()


def test_ctrl_e_opens_it_the_arrows_move_and_a_click_picks(root, make_chat):
    chat = make_chat()
    chat.input.focus_force()
    pump(root, lambda: root.focus_get() is chat.input)
    chat.input.event_generate(theme.shortcut("e"))
    picker = pump(root, lambda: chat.composer.emoji_picker, what="the picker")
    pump(root, lambda: picker.win.focus_get() is picker.entry)
    first = picker.emoji[0]
    press(root, picker.entry, "Right")
    press(root, picker.entry, "Down")
    assert picker.chosen == 1 + 9  # a column right, a row down
    assert picker.shown_name() and picker.emoji[picker.chosen] != first
    x0, y0, x1, y1 = picker._cell_box(3)
    picker.canvas.event_generate("<Motion>", x=(x0 + x1) // 2, y=(y0 + y1) // 2)
    root.update()
    assert picker.chosen == 3
    wanted = picker.emoji[3]
    picker.canvas.event_generate("<ButtonRelease-1>", x=(x0 + x1) // 2, y=(y0 + y1) // 2)
    pump(root, lambda: picker.closed)
    assert input_text(chat) == wanted


def test_a_click_back_in_the_room_closes_it_and_the_focus_stays_there(root, make_chat):
    chat = make_chat()
    picker = open_from_button(root, chat)
    chat.text.focus_force()  # as a click in the scrollback does
    pump(root, lambda: picker.closed, what="the picker closed")
    pump(root, lambda: root.focus_get() is chat.text, what="the focus where it went")
    assert chat.composer.emoji_picker is None and input_text(chat) == ""
    again = open_from_button(root, chat)
    chat.composer.toggle_emoji()  # the button again (or Ctrl+E): closes it
    pump(root, lambda: again.closed and chat.composer.emoji_picker is None)


def test_a_groups_button_clears_the_search_and_shows_that_group(root, make_chat):
    chat = make_chat()
    picker = open_from_button(root, chat)
    type_into(root, picker.entry, "cat")
    picker.show_section(Group.FOOD)
    root.update()
    assert picker.query.get() == "" and picker.emoji[picker.chosen] == "🍇"  # the first of Food & drink
    assert picker.shown_name() == "grapes"
    picker.close()


def test_japanese_names_are_shown_and_searched_in_japanese(root, make_chat):
    chat = make_chat()
    before = i18n.current_language()
    i18n.use_language("ja")
    try:
        picker = open_from_button(root, chat)
    finally:
        i18n.use_language(before)
    picker.entry.insert("end", "ねこ")  # as an input method commits it
    root.update()
    assert picker.emoji[:2] == ["🐈", "🐱"] and picker.shown_name() == "ネコ"
    press(root, picker.entry, "Return")
    pump(root, lambda: picker.closed)
    assert input_text(chat) == "🐈"


def test_a_query_that_matches_nothing_says_so_and_enter_does_nothing(root, make_chat):
    chat = make_chat()
    picker = open_from_button(root, chat)
    type_into(root, picker.entry, "qqqzzz")
    assert picker.emoji == [] and picker.chosen == -1
    texts = [
        picker.canvas.itemcget(item, "text") for item in picker.canvas.find_all() if picker.canvas.type(item) == "text"
    ]
    assert texts == ["No emoji found"]
    press(root, picker.entry, "Return")
    assert not picker.closed and input_text(chat) == ""
    picker.close()


def test_the_picker_opens_by_any_widget_for_other_parts(root, make_chat, settings):
    chat = make_chat()
    picked = []
    picker = open_emoji_picker(chat.win, chat.text, settings, picked.append)
    pump(root, lambda: picker.win.winfo_viewable())
    type_into(root, picker.entry, "thumbsup")
    press(root, picker.entry, "Return")
    pump(root, lambda: picked)
    assert picked == ["👍"] and settings.recent_emoji == ["👍"] and input_text(chat) == ""


def test_the_grids_rows_start_each_section_on_a_row_of_its_own():
    sections = [Section(RECENT, ("a", "b")), Section("x", tuple("cdefghijk"))]
    assert grid_rows(sections, 4) == [
        Row(0, 0, 2, True),
        Row(1, 2, 4, True),
        Row(1, 6, 4, False),
        Row(1, 10, 1, False),
    ]


def test_the_arrows_keep_the_column_and_stay_on_the_grid():
    rows = grid_rows([Section(RECENT, ("a", "b")), Section("x", tuple("cdefghijk"))], 4)
    assert step(rows, 1, "Down") == 3  # second column of the next row
    assert step(rows, 5, "Up") == 1  # fourth column above a row of two: its last
    assert step(rows, 9, "Down") == 10  # to the shorter last row
    assert step(rows, 0, "Up") == 0 and step(rows, 10, "Down") == 10
    assert step(rows, 0, "Left") == 0 and step(rows, 10, "Right") == 10
    assert step(rows, 1, "Right") == 2  # across sections as one list
    assert step(rows, 0, "Next", page=2) == 6 and step(rows, 10, "Prior", page=9) == 0
    assert step([], 0, "Down") == -1
