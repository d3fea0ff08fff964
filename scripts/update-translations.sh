#!/usr/bin/env bash
# Extracts every translatable string into ocm_core/locale/ocm.pot, merges it into each
# language's ocm.po, and compiles the .mo files the app reads (committed, so a plain
# checkout and the one-file build carry them). Run after changing any string wrapped in
# _(), N_() or ngettext(), then translate the new or fuzzy entries and run it again.
#
#     bash scripts/update-translations.sh            extract, update, compile
#     bash scripts/update-translations.sh compile    compile only
#     bash scripts/update-translations.sh init xx    start a catalog for language xx
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
LOCALE=ocm_core/locale
POT=$LOCALE/ocm.pot

extract() {
    "$PYBABEL" extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --no-location --sort-output \
        --project "Online Chat Messenger" --copyright-holder "Online Chat Messenger contributors" \
        --msgid-bugs-address "" -o "$POT" ocm_core ocm_gui
    # The creation date would change the file on every run; keep it stable.
    sed -i.bak '/^"POT-Creation-Date:/d' "$POT" && rm -f "$POT.bak"
}

# Dates in the headers would change every catalog on every run (and clash in merges).
drop_dates() {
    for po in "$LOCALE"/*/LC_MESSAGES/ocm.po; do
        sed -i.bak -e '/^"POT-Creation-Date:/d' -e '/^"PO-Revision-Date:/d' "$po" && rm -f "$po.bak"
    done
}

compile() {
    "$PYBABEL" compile --statistics -D ocm -d "$LOCALE"
}

case "${1:-all}" in
    compile) compile ;;
    init) extract; "$PYBABEL" init -D ocm -i "$POT" -d "$LOCALE" -l "$2" ;;
    all)
        extract
        "$PYBABEL" update -D ocm -i "$POT" -d "$LOCALE" --no-fuzzy-matching --ignore-obsolete
        "$(dirname "$PYBABEL")/python" scripts/fill_english.py "$LOCALE/en/LC_MESSAGES/ocm.po"
        drop_dates
        compile
        ;;
    *) echo "usage: $0 [compile | init LANG]" >&2; exit 2 ;;
esac
