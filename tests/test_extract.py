"""The offline extractor on small made-up bills in five languages, and measured on real invoices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.documents.evaluate import FIELDS, evaluate, matches
from assistant.documents.extract import extract
from assistant.documents.ocr import split_glued_words
from assistant.documents.recognise import looks_like_bill
from assistant.documents.values import DateStyle, country_currencies, find_money, parse_date, parse_decimal

# The team's corpus sits beside the checkout (`../shared/corpus`), as in CI; CORPUS_DIR overrides.
CORPUS = Path(os.environ.get("CORPUS_DIR") or Path(__file__).parents[2] / "shared" / "corpus" / "invoice2data")
# measured on the corpus: 79 of 84 fields right (94.0%); losing three of them fails this floor
CORPUS_FLOOR = 0.91

ENGLISH = """\
Brightwater Utilities LLC
120 Lake Road, Springfield
www.brightwater-utilities.example

Bill to:
Jordan Sample
45 Elm Street, Shelbyville

Invoice Number: BW-2024-0117
Account Number: 5521-8830
Invoice Date: 03/05/2024
Due Date: 03/25/2024
Service period: 02/01/2024 - 02/29/2024

Water usage              $84.20
Sewer                    $31.15
Total Amount Due         $115.35
Minimum payment due      $25.00
"""

GERMAN = """\
Stadtwerke Beispielstadt GmbH · Ringstraße 5 · 12345 Beispielstadt
Rechnungsempfänger:
Erika Musterfrau
Lindenweg 3, 54321 Irgendwo

Rechnung
Rechnungsnummer: SW-778812
Kundennummer: 100234
Rechnungsdatum: 04.03.2024
Fällig am: 18.03.2024
Leistungszeitraum: 01.02.2024 - 29.02.2024

Nettobetrag            1.034,50 EUR
MwSt. 19 %               196,56 EUR
Rechnungsbetrag        1.231,06 EUR

Bankverbindung: Sparkasse Beispiel, IBAN DE02 1203 0000 0000 2020 51, Kto-Nr. 2020511
"""

FRENCH = """\
ÉLECTRO-SERVICE SARL
12 avenue des Tilleuls, 69003 Lyon
TVA intracommunautaire : FR12345678901

Client :
Camille Martin
8 rue du Port, 13002 Marseille

Facture n° FA-2024-0456
N° client : C-99812
Date de facture : 15 février 2024
Date d'échéance : 15 mars 2024

Total HT : 1 250,00 €
TVA 20 % : 250,00 €
Total TTC : 1 500,00 €
Net à payer : 1 500,00 €
"""

DUTCH = """\
Factuur
Groenland Energie B.V.
Postbus 100, 1000 AB Amsterdam
KvK 12345678   BTW NL001234567B01
IBAN NL91 ABNA 0417 1643 00

Factuuradres:
P. de Vries
Kanaalweg 7, 3500 AA Utrecht

Factuurnummer: GE-20240311
Klantnummer: 4455667
Factuurdatum: 11 maart 2024
Vervaldatum: 25 maart 2024

Subtotaal      € 100,00
BTW 21%        € 21,00
Totaal         € 121,00
Te betalen     € 121,00
"""

POLISH = """\
Faktura VAT nr FV/2024/03/15
Data wystawienia: 2024-03-15
Termin płatności: 2024-03-29
Sprzedawca: Przykładowa Firma Sp. z o.o.
NIP: 123-456-78-90
Nabywca: Jan Kowalski
Razem brutto: 246,00 zł
Do zapłaty: 246,00 PLN
"""


def test_english_bill():
    e = extract(ENGLISH, "EUR")
    assert e.vendor.value == "Brightwater Utilities LLC"
    assert e.amount_due.value == Decimal("115.35")
    assert e.currency.value == "USD"
    assert e.issue_date.value == date(2024, 3, 5)          # 03/25 settles month-first
    assert e.due_date.value == date(2024, 3, 25)
    assert e.invoice_number.value == "BW-2024-0117"
    assert e.account_number.value == "5521-8830"
    assert e.service_period.value == (date(2024, 2, 1), date(2024, 2, 29))
    assert e.minimum_due.value == Decimal("25.00")
    assert "Total Amount Due" in e.amount_due.source
    assert e.amount_due.confidence >= 0.8


def test_german_bill():
    e = extract(GERMAN, "USD")
    assert e.vendor.value == "Stadtwerke Beispielstadt GmbH"
    assert e.amount_due.value == Decimal("1231.06")
    assert e.currency.value == "EUR"
    assert e.issue_date.value == date(2024, 3, 4)
    assert e.due_date.value == date(2024, 3, 18)
    assert e.invoice_number.value == "SW-778812"
    assert e.account_number.value == "100234"                # not the bank's Kto-Nr.
    assert e.service_period.value == (date(2024, 2, 1), date(2024, 2, 29))


def test_french_bill():
    e = extract(FRENCH, "USD")
    assert e.vendor.value == "ÉLECTRO-SERVICE SARL"
    assert e.amount_due.value == Decimal("1500.00")          # "1 500,00": space-grouped thousands
    assert e.currency.value == "EUR"
    assert e.issue_date.value == date(2024, 2, 15)
    assert e.due_date.value == date(2024, 3, 15)
    assert e.invoice_number.value == "FA-2024-0456"
    assert e.account_number.value == "C-99812"


def test_dutch_bill():
    e = extract(DUTCH, "USD")
    assert e.vendor.value == "Groenland Energie B.V."
    assert e.amount_due.value == Decimal("121.00")
    assert e.currency.value == "EUR"
    assert e.issue_date.value == date(2024, 3, 11)
    assert e.due_date.value == date(2024, 3, 25)
    assert e.invoice_number.value == "GE-20240311"
    assert e.account_number.value == "4455667"


def test_polish_bill():
    e = extract(POLISH, "USD")
    assert e.vendor.value == "Przykładowa Firma Sp. z o.o."
    assert e.amount_due.value == Decimal("246.00")
    assert e.currency.value == "PLN"
    assert e.issue_date.value == date(2024, 3, 15)
    assert e.due_date.value == date(2024, 3, 29)
    assert e.invoice_number.value == "FV/2024/03/15"
    assert e.account_number.value is None


@pytest.mark.parametrize("raw, value", [
    ("1.234,56", "1234.56"), ("1,234.56", "1234.56"), ("1 234,56", "1234.56"), ("1'234.56", "1234.56"),
    ("12,5", "12.50"), ("1.234", "1234.00"), ("-9,32", "-9.32"),
])
def test_decimal_separators(raw, value):
    assert parse_decimal(raw) == Decimal(value)


@pytest.mark.parametrize("text, value, currency", [
    ("Total: 1'234.50 CHF", "1234.50", "CHF"), ("Montant : 2 345,10 €", "2345.10", "EUR"),
    ("Amount £1,050.00", "1050.00", "GBP"), ("Kwota 99,90 zł", "99.90", "PLN"), ("Paid Rs 1939", "1939.00", "INR"),
    ("Refund (USD 12.40)", "-12.40", "USD"),
])
def test_money_in_a_line(text, value, currency):
    money = find_money(text, "USD")[-1]
    assert (money.value, money.currency) == (Decimal(value), currency)


def test_table_row_is_not_read_as_space_grouped_thousands():
    assert [m.value for m in find_money("Total 1 278.61 40.39 319.00", "USD")] == [
        Decimal("278.61"), Decimal("40.39"), Decimal("319.00")]


def test_dates_are_not_money():
    assert find_money("Issued 12.03.2024, due 26.03.2024", "EUR") == []


def bill(date_line: str, currency_line: str = "Amount due: $20.00", extra: str = "") -> str:
    return f"Corner Shop Ltd\nInvoice no: 1001\nInvoice date: {date_line}\n{extra}\n{currency_line}\n"


def test_a_day_above_twelve_settles_day_first():
    e = extract(bill("05/04/2024", extra="Due date: 20/04/2024"), "USD")
    assert (e.issue_date.value, e.due_date.value) == (date(2024, 4, 5), date(2024, 4, 20))


def test_a_day_above_twelve_settles_month_first():
    e = extract(bill("04/05/2024", "Amount due: 20,00 €", extra="Due date: 04/20/2024"), "EUR")
    assert (e.issue_date.value, e.due_date.value) == (date(2024, 4, 5), date(2024, 4, 20))


def test_ambiguous_dates_follow_language_and_currency():
    assert extract(bill("04/05/2024"), "USD").issue_date.value == date(2024, 4, 5)             # English, USD
    german = "Muster GmbH\nRechnungsnummer: 7\nRechnungsdatum: 04.05.2024\nGesamtbetrag: 20,00 EUR\n"
    assert extract(german, "USD").issue_date.value == date(2024, 5, 4)
    assert extract(bill("04/05/2024", "Amount due: £20.00"), "USD").issue_date.value == date(2024, 5, 4)


def test_written_month_dates_in_each_language():
    style = DateStyle("DMY", ("de", "fr", "nl", "pl", "en"))
    assert parse_date("7. Mai 2014", style) == date(2014, 5, 7)
    assert parse_date("1er juillet 2015", style) == date(2015, 7, 1)
    assert parse_date("29 maart 2014", style) == date(2014, 3, 29)
    assert parse_date("3 stycznia 2021", style) == date(2021, 1, 3)
    assert parse_date("August 3 , 2014", style) == date(2014, 8, 3)


BANK_TRAP = """\
Northwind Hosting Ltd
Invoice No: NH-5567
Invoice date: 2 May 2024
Customer account: AC-88213
Amount due: £45.00

Payment details
Bank name: Example Bank
Account No.: 12345678
Sort code: 12-34-56
"""


def test_the_vendors_bank_account_is_not_the_customers_account():
    assert extract(BANK_TRAP, "GBP").account_number.value == "AC-88213"
    without_customer = BANK_TRAP.replace("Customer account: AC-88213\n", "")
    assert extract(without_customer, "GBP").account_number.value is None


def test_iban_is_never_an_account_number():
    text = "Acme Ltd\nInvoice no: 55\nAccount number: GB29 NWBK 6016 1331 9268 19\nTotal due: £10.00\n"
    assert extract(text, "GBP").account_number.value is None


def test_credit_note_amount_is_negative():
    printed = "Acme Supplies Inc.\nCredit note no: CN-1002\nDate: June 3, 2024\nAmount due: -$50.00\n"
    assert extract(printed, "USD").amount_due.value == Decimal("-50.00")
    titled = "CREDIT NOTE\nAcme Supplies Inc.\nCredit note no: CN-1003\nDate: June 3, 2024\nTotal: $50.00\n"
    e = extract(titled, "USD")
    assert e.amount_due.value == Decimal("-50.00")
    assert e.invoice_number.value == "CN-1003"


def test_the_customer_is_not_the_vendor():
    text = ("Invoice\nBill to:\nBig Customer GmbH\nHauptstraße 1, 10115 Berlin\n\n"
            "From: Small Vendor Ltd\nInvoice number: SV-9\nTotal due: €80.00\n")
    assert extract(text, "EUR").vendor.value == "Small Vendor Ltd"


def test_nothing_found_is_none_with_no_confidence():
    e = extract("Hello, could you tell me what is due this week?", "USD")
    for name in ("vendor", "amount_due", "currency", "issue_date", "due_date", "invoice_number", "account_number",
                 "service_period", "minimum_due"):
        got = getattr(e, name)
        assert (got.value, got.confidence, got.source) == (None, 0.0, None), name


def test_values_printed_in_a_block_after_their_labels_column():
    text = ("INVOICE\nRiverside Repairs\nJan 4, 2024\nJan 18, 2024\n$240.00\n"
            "Invoice Date\n:\nDue Date\n:\nBalance Due\n:\n")
    e = extract(text, "USD")
    assert (e.issue_date.value, e.due_date.value, e.amount_due.value) == (date(2024, 1, 4), date(2024, 1, 18),
                                                                         Decimal("240.00"))


def test_value_printed_before_its_label():
    e = extract("Tulpen B.V.\n20240077Factuurnummer:\n3 april 2024Factuurdatum:\nTotaal € 12,10\n", "EUR")
    assert (e.invoice_number.value, e.issue_date.value) == ("20240077", date(2024, 4, 3))


# --- identifiers: "#" printed with the number, a bare "# number" under the title --------------


@pytest.mark.parametrize("line, value", [
    ("Invoice No : # KX_77120", "#KX_77120"),     # the label says "No": the "#" is printed with the number
    ("InvoiceNo:#KX_77120", "#KX_77120"),         # the same read by OCR
    ("Invoice # 4410", "4410"),                   # here "#" is the "number" marker
    ("Invoice #: 4410", "4410"),
    ("Invoice number: 4410", "4410"),
])
def test_a_hash_is_kept_only_when_the_label_already_says_number(line, value):
    text = f"Harbor Lights Ltd\n{line}\nDate: 2 May 2024\nTotal due: £12.00\n"
    assert extract(text, "GBP").invoice_number.value == value


def test_a_bare_number_line_under_the_title_is_the_invoice_number():
    text = "Lakeside Bakery  RECEIPT\nhello@lakeside-bakery.example\n# R-2291\nDate: Mar 3, 2024\nTotal: $18.40\n"
    e = extract(text, "USD")
    assert e.invoice_number.value == "R-2291"
    assert e.invoice_number.confidence < 0.6
    untitled = text.replace("  RECEIPT", "")
    assert extract(untitled, "USD").invoice_number.value is None   # no title: "#" alone says too little


def test_the_name_beside_the_title_in_the_header_is_the_vendor():
    text = "Pine Hill Studio    INVOICE\nInvoice no: PH-31\nBill To:\nMorgan Lee\nTotal: $90.00\n"
    assert extract(text, "USD").vendor.value == "Pine Hill Studio"
    # a header line holding other labels is not a name
    other = "Pine Hill Studio    Phone: 555 0100\nInvoice no: PH-31\nTotal: $90.00\n"
    assert extract(other, "USD").vendor.value is None


def test_a_bill_without_currency_takes_its_countrys():
    text = ("Sahyadri Traders Pvt. Ltd.\nShop 4, MG Road, Pune 411001, Maharashtra, India\nInvoice No: ST-0091\n"
            "Invoice Date: 12-01-2024\nGrand Total 450.00\n")
    e = extract(text, "EUR")
    assert e.currency.value == "INR"
    assert 0.3 < e.currency.confidence < 0.55   # surer than the default, less than a printed currency
    assert "India" in e.currency.source
    printed = text.replace("Grand Total 450.00", "Grand Total $450.00")
    assert extract(printed, "EUR").currency.value == "USD"     # a printed currency wins
    nowhere = text.replace(", India", "")
    assert extract(nowhere, "EUR").currency.value == "EUR"     # no country: the default


def test_country_names_that_name_no_country():
    assert country_currencies("Unit 3, 10 Pitt St, Sydney, New South Wales, Australia") == ["AUD"]
    assert country_currencies("Belfast, Northern Ireland") == ["GBP"]
    assert country_currencies("el servicio que se usa cada mes") == []   # "usa" is a word, "USA" a country


@pytest.mark.parametrize("raw, split", [
    ("SoldBy:NorthStarTradingPvt.Ltd.", "SoldBy:North Star Trading Pvt.Ltd."),
    ("GreenValleyFarms Limited", "Green Valley Farms Limited"),
    ("ACMEWidgetsSupply", "ACME Widgets Supply"),
    ("PayPal", "PayPal"),                        # one join: a name written that way
    ("BlueHarbor GmbH", "BlueHarbor GmbH"),
    ("TOTALDUEONMarch3,2024", "TOTALDUEONMarch3,2024"),
    ("InvoiceNo:#INV_2024_77", "InvoiceNo:#INV_2024_77"),
])
def test_ocr_puts_back_the_spaces_between_glued_titlecase_words(raw, split):
    assert split_glued_words(raw) == split


def test_a_vendor_read_by_ocr_without_spaces():
    text = split_glued_words("TAXINVOICE\nSoldBy:NorthStarTradingPvt.Ltd.\nInvoiceNo:NS-88\nGrandTotal $42.00\n")
    assert extract(text, "USD").vendor.value == "North Star Trading Pvt.Ltd."


# --- cross-checks lower the confidence ------------------------------------------------------


def test_due_before_issue_lowers_both_dates():
    good = extract(bill("2 May 2024", extra="Due date: 20 May 2024"), "USD")
    bad = extract(bill("2 May 2024", extra="Due date: 20 April 2024"), "USD")
    assert bad.due_date.value == date(2024, 4, 20)
    assert bad.due_date.confidence < good.due_date.confidence
    assert bad.issue_date.confidence < good.issue_date.confidence


def test_amount_due_above_the_total_lowers_its_confidence():
    good = extract(bill("2 May 2024", "Total: $20.00\nAmount due: $20.00"), "USD")
    bad = extract(bill("2 May 2024", "Total: $20.00\nAmount due: $200.00"), "USD")
    assert bad.amount_due.value == Decimal("200.00")
    assert bad.amount_due.confidence < good.amount_due.confidence


def test_several_currencies_lower_the_currency_confidence():
    good = extract(bill("2 May 2024", "Delivery: $5.00\nAmount due: $20.00"), "USD")
    bad = extract(bill("2 May 2024", "Delivery: €5.00\nAmount due: $20.00"), "USD")
    assert bad.currency.value == "USD"
    assert bad.currency.confidence < good.currency.confidence


def test_default_currency_only_when_none_is_printed():
    e = extract("Corner Shop Ltd\nInvoice no: 1001\nTotal: 20.00\n", "CAD")
    assert e.currency.value == "CAD" and e.currency.confidence <= 0.3


def test_a_pasted_bill_is_recognised():
    assert looks_like_bill(ENGLISH)


# --- the evaluation -----------------------------------------------------------------------------


def test_scoring_rules():
    assert matches("vendor", "Acme", "ACME Corp.", [])
    assert matches("vendor", "Big Name", "Other Ltd", ["Other Limited", "Other Ltd."])
    assert not matches("vendor", "Acme", "Zenith", [])
    assert matches("amount_due", 4.1, Decimal("4.10"))
    assert matches("invoice_number", "F 12/3", "f12/3")
    assert matches("due_date", None, None) and not matches("due_date", None, date(2024, 1, 1))
    assert matches("issue_date", "2024-01-02", date(2024, 1, 2))


def test_evaluate_a_small_directory(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "gt").mkdir()
    (tmp_path / "docs" / "a.txt").write_text(BANK_TRAP)
    (tmp_path / "docs" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    (tmp_path / "gt" / "a.json").write_text(json.dumps({
        "vendor": "Northwind Hosting", "vendor_aliases": [], "total": 45, "currency": "GBP",
        "issue_date": "2024-05-02", "due_date": None, "invoice_number": "NH-5567", "account_number": "AC-88214"}))
    report = evaluate(tmp_path)
    assert report.files == ["a.txt"]
    assert report.skipped == [{"file": "a.png", "reason": "image: run with OCR (--ocr) to include"}]
    assert report.total == len(FIELDS) and report.correct == len(FIELDS) - 1
    assert [(m.file, m.field, m.expected, m.got) for m in report.misses] == [
        ("a.txt", "account_number", "AC-88214", "AC-88213")]


def test_corpus_accuracy_does_not_regress():
    report = evaluate(CORPUS)
    data = report.to_dict()
    assert len(report.files) == 12
    assert {s["file"] for s in report.skipped} == {p.name for p in (CORPUS / "docs").glob("*.png")}
    assert set(data["per_field"]) == {name for name, _, _ in FIELDS}
    for score in data["per_field"].values():
        assert score["total"] == 12 and 0 <= score["accuracy"] <= 1
    assert data["overall"]["total"] == 12 * len(FIELDS)
    assert len(data["misses"]) == data["overall"]["total"] - data["overall"]["correct"]
    assert all({"file", "field", "expected", "got"} <= set(m) for m in data["misses"])
    assert report.overall >= CORPUS_FLOOR, data["misses"]


def test_eval_command_prints_json():
    run = subprocess.run([sys.executable, "-m", "assistant.cli", "eval", "extraction", str(CORPUS), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["overall"]["total"] == 84 and data["per_field"]["amount_due"]["total"] == 12


def test_a_name_holding_a_label_word_is_still_the_vendor():
    # "Phone", "Gas", "Total" can be labels; in a header line with no value after them they are part of a name
    for name in ("Summit Phone Co", "Total Gas & Power"):
        found = extract(f"{name}\nInvoice number: SP-310\nAmount due: $35.75\nDue date: 2026-12-22", "USD")
        assert found.vendor.value == name
    # a header made of labels only is no name
    assert extract("Invoice Date   Due Date\nAmount due: 5.00", "USD").vendor.value is None
