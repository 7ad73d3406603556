"""The model extractor's check of a model's values against the document text (`verify`): what is
accepted, with what confidence and source, and what falls back to the rules or goes to review.
The model calls themselves are tested against the fake vendors in tests/providers/test_model_extractor.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from assistant.documents.extract import extract
from assistant.documents.model_extract import response_schema, verify
from tests.factories import UTILITY_BILL

REVIEW = 0.35

BILL = UTILITY_BILL


def fields(**given) -> dict:
    values = {name: None for name in response_schema()["properties"]}
    values.update(given)
    return values


def check(text: str, review_below: float = REVIEW, from_image: bool = False, default: str = "USD", **given):
    """The model's `given` values checked against `text`, next to the rules' reading of it."""
    return verify(fields(**given), text, extract(text, default), default_currency=default,
                  review_below=review_below, from_image=from_image)


def test_values_the_text_shows_are_taken_with_their_line_as_source():
    found = check(BILL, vendor="Pacific Power", amount_due="120.50", currency="USD", issue_date="2026-11-01",
                  due_date="2026-11-24", invoice_number="INV-2026-0042", account_number="5512-3345-01",
                  service_period_start="2026-10-01", service_period_end="2026-10-31")
    assert found.vendor.value == "Pacific Power" and found.vendor.source == "Pacific Power"
    assert found.amount_due.value == Decimal("120.50") and found.amount_due.source == "Amount due: $120.50"
    assert found.currency.value == "USD"
    assert found.due_date.value == date(2026, 11, 24)  # the rules found no due date here
    assert found.due_date.confidence == 0.9 and "no later than November 24, 2026" in found.due_date.source
    assert found.issue_date.confidence == 0.95  # the rules read the same date
    assert found.service_period.value == (date(2026, 10, 1), date(2026, 10, 31))  # a partial start
    assert found.service_period.source == "Service from October 1 - October 31, 2026"
    assert found.account_number.value == "5512-3345-01"
    assert all(getattr(found, name).confidence >= REVIEW for name in ("vendor", "amount_due", "due_date"))


def test_an_amount_the_text_does_not_show_gives_way_to_the_rules():
    found = check(BILL, vendor="Pacific Power", amount_due="999.99")
    assert found.amount_due.value == Decimal("120.50") and found.amount_due.confidence == 0.9
    assert "'999.99', which the document does not show" in found.amount_due.source
    assert found.amount_due.source.startswith("Amount due: $120.50")


def test_a_value_neither_the_text_nor_the_rules_have_is_kept_for_review():
    text = "Pacific Power\nAccount number: 5512-3345-01\nDue date: 2026-11-24\n"
    found = check(text, vendor="Pacific Power", amount_due="999.99", invoice_number="INV-777")
    assert found.amount_due.value == Decimal("999.99") and found.amount_due.confidence < REVIEW
    assert "not found in the document" in found.amount_due.source
    assert found.invoice_number.value == "INV-777" and found.invoice_number.confidence < REVIEW
    assert found.vendor.confidence >= REVIEW
    # with a stricter review threshold, still below it
    assert check(text, review_below=0.8, amount_due="999.99").amount_due.confidence < 0.8


def test_a_field_the_model_leaves_empty_keeps_the_rules_reading():
    found = check(BILL, vendor="Pacific Power")
    assert found.amount_due.value == Decimal("120.50") and found.invoice_number.value == "INV-2026-0042"


def test_unreadable_values_are_not_kept():
    found = check(BILL, due_date="next Friday", amount_due="about a hundred")
    assert found.due_date.value is None and found.amount_due.value == Decimal("120.50")


def test_dates_are_read_in_the_documents_day_month_order():
    text = "Acme Ltd\nInvoice date: 03/04/2026\nDue date: 17/04/2026\nTotal due: £40.00\n"  # 17/04: day first
    found = check(text, default="GBP", issue_date="2026-04-03", due_date="2026-04-17")
    assert (found.issue_date.value, found.due_date.value) == (date(2026, 4, 3), date(2026, 4, 17))
    assert found.issue_date.confidence >= 0.9
    misread = check(text, default="GBP", issue_date="2026-03-04")  # the month-first reading
    assert misread.issue_date.value == date(2026, 4, 3) and "'2026-03-04'" in misread.issue_date.source


def test_an_ambiguous_date_in_a_document_that_does_not_settle_the_order_is_a_weak_match():
    text = "Acme Ltd\nInvoice date: 03/04/2026\nTotal due: 40.00 EUR\n"
    found = verify(fields(issue_date="2026-04-03"), text, extract("Acme Ltd\n", "EUR"), default_currency="EUR")
    assert found.issue_date.value == date(2026, 4, 3) and found.issue_date.confidence == 0.7


def test_identifiers_match_whatever_their_separators_but_not_one_digit_off():
    found = check(BILL, invoice_number="INV 2026 0042", account_number="5512334501")
    assert found.invoice_number.value == "INV-2026-0042"  # as printed
    assert found.account_number.value == "5512-3345-01"
    off = check(BILL, invoice_number="INV-2026-0043")
    assert off.invoice_number.value == "INV-2026-0042" and "'INV-2026-0043'" in off.invoice_number.source
    inside = check("Acme Ltd\nRef: XINV-20260042\nTotal: $5.00\n", invoice_number="INV-20260042")
    assert inside.invoice_number.confidence < REVIEW  # part of another token is not the number


def test_a_vendor_is_matched_by_whole_words_or_closely_enough():
    assert check(BILL, vendor="pacific power & light co").vendor.confidence >= 0.9
    typo = check("Pacifc Power & Light\nAmount due: $5.00\n", vendor="Pacific Power & Light")
    assert typo.vendor.value == "Pacific Power & Light" and typo.vendor.confidence >= 0.85
    assert typo.vendor.source == "Pacifc Power & Light"
    other = check(BILL, vendor="Portland General Electric")
    assert other.vendor.value == "Pacific Power & Light Co."  # the rules' reading
    assert "'Portland General Electric', which the document does not show" in other.vendor.source
    part = check("Acmeville Hardware\nAmount due: $5.00\n", vendor="Acme")  # not a whole word
    assert part.vendor.value != "Acme"


def test_a_checked_value_the_rules_confidently_read_otherwise_is_less_sure():
    text = "Acme Ltd\nSubtotal: $100.00\nAmount due: $120.50\n"
    found = check(text, vendor="Acme Ltd", amount_due="100.00")
    assert found.amount_due.value == Decimal("100.00") and found.amount_due.confidence == 0.75


def test_a_credit_note_keeps_its_sign():
    text = "CREDIT NOTE\nAcme GmbH\nCredit note number: CN-12\nTotal: 50,00 EUR\n"
    rules = extract(text, "EUR")
    assert rules.amount_due.value == Decimal("-50.00")
    found = verify(fields(vendor="Acme GmbH", amount_due="50.00", currency="EUR"), text, rules, default_currency="EUR")
    assert found.amount_due.value == Decimal("-50.00")


def test_currency_named_in_the_text_or_the_default_when_none_is():
    named = check(BILL, currency="USD", amount_due="120.50").currency
    assert (named.value, named.source) == ("USD", "Amount due: $120.50") and named.confidence >= 0.9
    words = check("Acme Ltd\nAll charges in euros\nTotal due: 45.10\n", default="USD", currency="EUR")
    assert words.currency.value == "EUR" and words.currency.source == "All charges in euros"
    plain = "Acme Ltd\nAmount due: 45.10\n"  # no currency printed: the default, not sure
    default = check(plain, currency="USD", amount_due="45.10").currency
    assert (default.value, default.confidence) == ("USD", 0.3)
    assert default.source == "no currency printed: the default currency"
    euro = check(plain, currency="EUR", amount_due="45.10").currency
    assert euro.value == "USD" and "'EUR', which the document does not show" in euro.source
    both = "Acme Ltd\nAmount due: $45.10\nor 41.00 EUR\n"
    assert check(both, currency="USD", amount_due="45.10").currency.confidence < 0.9  # several currencies


def test_cross_checks_lower_what_does_not_add_up():
    text = "Acme Ltd\nInvoice date: 2026-11-20\nDue date: 2026-11-05\nAmount due: $100.00\nMinimum due: $150.00\n"
    found = verify(fields(issue_date="2026-11-20", due_date="2026-11-05", amount_due="100.00",
                          minimum_due="150.00"), text, extract("Acme Ltd\n", "USD"), default_currency="USD")
    assert found.issue_date.confidence < 0.9 and found.due_date.confidence < 0.9
    assert found.minimum_due.value == Decimal("150.00") and found.minimum_due.confidence < 0.9
    backwards = check(BILL, service_period_start="2026-10-31", service_period_end="2026-10-01")
    assert backwards.service_period.value == (date(2026, 10, 1), date(2026, 10, 31))  # the rules' reading


def test_a_photo_without_text_keeps_the_models_reading_below_the_review_threshold():
    found = check("", from_image=True, vendor="Metro Water", amount_due="41.20", due_date="2026-12-02")
    for name in ("vendor", "amount_due", "due_date"):
        field = getattr(found, name)
        assert field.value is not None and field.confidence < REVIEW
        assert field.source == "read by the model from the image; no text to check it against"


def test_a_photo_with_ocr_text_is_checked_against_it():
    ocr = "METRO WATER\nAmount due 41.20 USD\nDue 2026-12-02\n"
    found = check(ocr, from_image=True, vendor="Metro Water", amount_due="41.20", due_date="2026-12-02")
    assert found.vendor.confidence >= 0.9 and found.amount_due.confidence >= 0.9
    assert found.due_date.value == date(2026, 12, 2) and found.due_date.confidence >= 0.9


def test_the_schema_suits_strict_structured_output():
    schema = response_schema()
    assert schema["additionalProperties"] is False and schema["required"] == list(schema["properties"])
    assert all(p["type"] == ["string", "null"] for p in schema["properties"].values())
