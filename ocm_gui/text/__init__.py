"""Setting text: line breaking (kinsoku), wrapped labels, emoji, ellipsis and tooltips."""
