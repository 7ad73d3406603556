"""The words bills use to label their fields, in English, German, French, Dutch and Polish.

A label is a regular expression, the field kinds it announces (with a tier: 3 = says exactly this
field, 2 = usually this field, 1 = a generic word that may be), and its language. `label_line`
finds the labels in one line of text; the extractor then looks for the value next to each label.

Matching is case-insensitive. Text from PDFs is often glued ("993548900Factuurnummer:",
"TTCSomme à payer"), so a label may start right after a digit, or right after a letter when the
label itself starts a Titlecase word; it may not start or end in the middle of a lowercase word
("Subtotaal" holds no "totaal").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    AMOUNT = "amount"            # amount to pay (tier 3) or a gross total (tier 2 / 1)
    MIN_DUE = "minimum_due"
    ISSUE = "issue_date"
    DUE = "due_date"
    INVOICE_NO = "invoice_number"
    ACCOUNT_NO = "account_number"
    ISSUER = "issuer"            # the vendor's name follows
    CUSTOMER = "customer"        # the customer's name/address follows
    ATTENTION = "attention"      # "Attn:", "T.a.v.": the line belongs to the customer's address block
    PERIOD = "period"
    TERMS = "terms"              # payment terms ("14 Tage netto")
    TITLE = "title"              # the document's title ("Invoice"); tier 3 = a credit note
    BANK = "bank"                # the vendor's bank details: never the customer's account
    REGISTRY = "registry"        # VAT / company registration numbers: the vendor's identity is near
    OTHER = "other"              # labels of fields we do not extract (they bound values and blocks)


@dataclass(frozen=True)
class Label:
    pattern: str
    kinds: tuple[tuple[Kind, int], ...]
    lang: str


@dataclass(frozen=True)
class LabelHit:
    start: int
    end: int
    kinds: dict[Kind, int]
    lang: str
    text: str

    def tier(self, kind: Kind) -> int:
        return self.kinds.get(kind, 0)


A, MIN, ISS, DUE, INV, ACC = Kind.AMOUNT, Kind.MIN_DUE, Kind.ISSUE, Kind.DUE, Kind.INVOICE_NO, Kind.ACCOUNT_NO
_NO = r"(?:number|no\.?|nr\.?|num\.?|#|n[°º]|id)"   # "number" abbreviations after a noun

# (pattern, kinds, language). Order does not matter: the longest match on a line wins.
_TABLE: list[tuple[str, tuple[tuple[Kind, int], ...], str]] = [
    # --- amount to pay (tier 3) ---
    (r"(?:total\s+)?amount\s+due", ((A, 3),), "en"),
    (r"(?:total\s+)?(?:amount|balance)\s+due\s+(?:on|by)", ((A, 3), (DUE, 3)), "en"),
    (r"total\s+due", ((A, 3),), "en"),
    (r"balance\s+due", ((A, 3),), "en"),
    (r"(?:new|outstanding)\s+balance", ((A, 3),), "en"),
    (r"(?:total\s+)?amount\s+(?:payable|owing|to\s+pay)", ((A, 3),), "en"),
    (r"total\s+(?:payable|to\s+pay)", ((A, 3),), "en"),
    (r"please\s+pay", ((A, 3),), "en"),
    (r"pay\s+this\s+amount", ((A, 3),), "en"),
    (r"zu\s+zahlen(?:der\s+betrag)?", ((A, 3),), "de"),
    (r"zahlbetrag|zahlungsbetrag|offener\s+betrag|f[äa]lliger\s+betrag", ((A, 3),), "de"),
    (r"(?:net|montant|somme|reste|total)\s+[àa]\s+payer", ((A, 3),), "fr"),
    (r"montant\s+d[ûu]", ((A, 3),), "fr"),
    (r"montant\s+(?:du\s+)?pr[ée]l[eè]v(?:ement|é)", ((A, 3),), "fr"),
    (r"(?:totaal\s+|nog\s+)?te\s+betalen(?:\s+bedrag)?", ((A, 3),), "nl"),
    (r"openstaand\s+bedrag|te\s+voldoen", ((A, 3),), "nl"),
    (r"(?:kwota\s+)?do\s+zap[łl]aty", ((A, 3),), "pl"),
    (r"nale[żz]no[śs][ćc](?:\s+og[óo][łl]em)?", ((A, 3),), "pl"),
    # --- gross totals (tier 2) ---
    (r"grand\s+total|invoice\s+total|total\s+amount|total\s+for\s+this\s+invoice", ((A, 2),), "en"),
    (r"total\s+(?:incl\.?|including)\s+(?:tax|vat)", ((A, 2),), "en"),
    (r"gesamtbetrag|rechnungsbetrag|endbetrag|gesamtsumme|bruttobetrag|rechnungssumme", ((A, 2),), "de"),
    (r"total\s+ttc|montant\s+ttc|total\s+(?:de\s+la\s+)?facture|montant\s+total", ((A, 2),), "fr"),
    (r"totaal(?:\s+incl\.?\s+btw)?|factuur\s*totaal|totaal\s*bedrag", ((A, 2),), "nl"),
    (r"razem(?:\s+do\s+zap[łl]aty)?|warto[śs][ćc]\s+brutto", ((A, 2),), "pl"),
    # --- a bare "total" (tier 1); net and tax totals are OTHER below ---
    (r"total|summe|suma", ((A, 1),), "en"),
    # --- minimum payment ---
    (r"minimum\s+(?:amount|payment)(?:\s+due)?|minimum\s+due", ((MIN, 3),), "en"),
    (r"mindest(?:betrag|zahlung)", ((MIN, 3),), "de"),
    (r"(?:paiement|montant)\s+minimum", ((MIN, 3),), "fr"),
    (r"minimum\s*bedrag|minimale\s+betaling", ((MIN, 3),), "nl"),
    (r"minimalna\s+kwota", ((MIN, 3),), "pl"),
    # --- issue date ---
    (r"invoice\s+date|date\s+of\s+(?:invoice|issue)|issue\s+date|issued\s+on|date\s+issued", ((ISS, 3),), "en"),
    (r"(?:bill|billing|statement|document|receipt)\s+date", ((ISS, 3),), "en"),
    (r"rechnungsdatum|ausstellungsdatum|belegdatum", ((ISS, 3),), "de"),
    (r"date\s+de\s+(?:la\s+)?factur(?:e|ation)|date\s+d['’][ée]mission", ((ISS, 3),), "fr"),
    (r"factuur\s*datum", ((ISS, 3),), "nl"),
    (r"data\s+(?:wystawienia|faktury)", ((ISS, 3),), "pl"),
    (r"date\s*:", ((ISS, 1),), "en"),
    (r"datum\s*:", ((ISS, 1),), "de"),
    (r"data\s*:", ((ISS, 1),), "pl"),
    # --- due date ---
    (r"(?:payment\s+)?due\s+date|payment\s+due|due\s+(?:by|on)|(?:please\s+)?pay\s+by|payable\s+by", ((DUE, 3),), "en"),
    (r"f[äa]llig(?:keitsdatum|keit|\s+am|\s+bis)?|zahlbar\s+bis|zahlungsziel|zahlungstermin", ((DUE, 3),), "de"),
    (r"(?:date\s+d['’])?[ée]ch[ée]ance|date\s+limite\s+de\s+paiement|[àa]\s+payer\s+avant\s+le", ((DUE, 3),), "fr"),
    (r"pr[ée]l[eè]vement\s+[àa]\s+partir\s+du|date\s+de\s+pr[ée]l[eè]vement|pr[ée]lev[ée]\s+le", ((DUE, 3),), "fr"),
    (r"vervaldatum|uiterste\s+betaaldatum|te\s+betalen\s+v[oó][oó]r", ((DUE, 3),), "nl"),
    (r"termin\s+(?:p[łl]atno[śs]ci|zap[łl]aty)|p[łl]atne\s+do", ((DUE, 3),), "pl"),
    # --- invoice number ---
    (rf"(?:invoice|bill|receipt|credit\s+note|document)\s*{_NO}", ((INV, 3),), "en"),
    (r"rechnungs?\s*-?\s*(?:nummer|nr\.?)|rechnung\s+nr\.?|beleg(?:nummer|nr\.?)|gutschrift(?:s)?\s*-?\s*nr\.?",
     ((INV, 3),), "de"),
    (r"facture\s+n\s*[°ºo]\.?|n[°º]\s*(?:de\s+)?facture|num[ée]ro\s+de\s+facture", ((INV, 3),), "fr"),
    (r"factuur\s*(?:nummer|nr\.?)", ((INV, 3),), "nl"),
    (r"faktur[ay]\s+(?:vat\s+)?nr\.?|numer\s+faktury|nr\s+faktury", ((INV, 3),), "pl"),
    (r"booking\s+(?:id|ref(?:erence)?|number|no\.?)|reservation\s+(?:number|no\.?)", ((INV, 1),), "en"),
    # --- the customer's account number ---
    (rf"account\s*{_NO}|customer\s*(?:{_NO}|account(?:\s+number)?)|client\s*{_NO}|member\s*{_NO}", ((ACC, 3),), "en"),
    (r"kunden\s*-?\s*(?:nummer|nr\.?|id)|kd\.?\s*-?\s*nr\.?|vertragskonto", ((ACC, 3),), "de"),
    (r"num[ée]ro\s+(?:de\s+)?client|n[°º]\s*client|id\.?\s*client|identifiant\s+client|(?:r[ée]f[ée]rence|code)\s+client",
     ((ACC, 3),), "fr"),
    (r"klant\s*(?:nummer|nr\.?|id)|debiteur\s*(?:nummer|nr\.?)", ((ACC, 3),), "nl"),
    (r"(?:numer|nr|id)\s+klienta", ((ACC, 3),), "pl"),
    # --- the vendor (issuer) ---
    # single words name the issuer only as a field label (with a colon): "Vendor" also occurs in names
    (r"(?:from|seller|vendor|supplier|merchant|payee)\s*:|sold\s+by|issued\s+by|service\s+provider", ((Kind.ISSUER, 3),), "en"),
    (r"(?:make\s+(?:cheques|checks)\s+)?payable\s+to|remit\s+to|account\s+holder|beneficiary|in\s+favou?r\s+of",
     ((Kind.ISSUER, 3),), "en"),
    (r"received\s+by", ((Kind.ISSUER, 2),), "en"),
    (r"(?:verk[äa]ufer|lieferant|rechnungssteller|leistungserbringer|kontoinhaber|absender)\s*:", ((Kind.ISSUER, 3),), "de"),
    (r"(?:vendeur|fournisseur|[ée]metteur|b[ée]n[ée]ficiaire)\s*:|[ée]mis\s+par|titulaire\s+du\s+compte|[àa]\s+l['’]ordre\s+de",
     ((Kind.ISSUER, 3),), "fr"),
    (r"(?:verkoper|leverancier|begunstigde|rekeninghouder)\s*:|ten\s+name\s+van|t\.\s?n\.\s?v\.", ((Kind.ISSUER, 3),), "nl"),
    (r"(?:sprzedawca|wystawca)\s*:", ((Kind.ISSUER, 3),), "pl"),
    # --- the customer ---
    (r"bill(?:ed|ing)?\s+to|invoice\s+to|sold\s+to|ship(?:ped|ping)?\s+to|deliver(?:ed|y)?\s+to", ((Kind.CUSTOMER, 3),), "en"),
    (r"(?:billing|shipping|delivery)\s+address|customer\s*(?:name)?\s*:|guest\s+name", ((Kind.CUSTOMER, 3),), "en"),
    (r"rechnungs(?:empf[äa]nger|adresse)|liefer(?:adresse|anschrift)|kunde\s*:", ((Kind.CUSTOMER, 3),), "de"),
    (r"destinataire|adresse\s+de\s+(?:facturation|livraison)|client\s*:|nom\s+de\s+l['’]abonn[ée]", ((Kind.CUSTOMER, 3),), "fr"),
    (r"factuuradres|afleveradres|klant\s*:", ((Kind.CUSTOMER, 3),), "nl"),
    (r"nabywca|odbiorca|klient\s*:", ((Kind.CUSTOMER, 3),), "pl"),
    (r"attn\.?|attention|c/o|z\.\s?hd\.?|[àa]\s+l['’]attention\s+de|t\.\s?a\.\s?v\.", ((Kind.ATTENTION, 3),), "en"),
    # --- service period ---
    (r"(?:billing|service|statement|usage|invoice)\s+period|period", ((Kind.PERIOD, 3),), "en"),
    (r"(?:leistungs|abrechnungs)?zeitraum", ((Kind.PERIOD, 3),), "de"),
    (r"p[ée]riode(?:\s+de\s+facturation)?", ((Kind.PERIOD, 3),), "fr"),
    (r"(?:facturatie)?periode", ((Kind.PERIOD, 3),), "nl"),
    (r"okres(?:\s+rozliczeniowy)?", ((Kind.PERIOD, 3),), "pl"),
    # --- payment terms ---
    (r"payment\s+terms|terms", ((Kind.TERMS, 3),), "en"),
    (r"zahlungsbedingungen", ((Kind.TERMS, 3),), "de"),
    (r"conditions\s+de\s+(?:paiement|r[èe]glement)", ((Kind.TERMS, 3),), "fr"),
    (r"betalings(?:voorwaarden|termijn|conditie)", ((Kind.TERMS, 3),), "nl"),
    (r"warunki\s+p[łl]atno[śs]ci", ((Kind.TERMS, 3),), "pl"),
    # --- document titles; a credit note is tier 3 ---
    (r"(?:tax\s+)?invoice|payment\s+receipt|receipt", ((Kind.TITLE, 1),), "en"),
    (r"rechnung", ((Kind.TITLE, 1),), "de"),
    (r"facture", ((Kind.TITLE, 1),), "fr"),
    (r"factuur", ((Kind.TITLE, 1),), "nl"),
    (r"faktura(?:\s+vat)?", ((Kind.TITLE, 1),), "pl"),
    (r"credit\s+(?:note|memo)", ((Kind.TITLE, 3),), "en"),
    (r"gutschrift|rechnungskorrektur", ((Kind.TITLE, 3),), "de"),
    (r"avoir|note\s+de\s+cr[ée]dit|facture\s+d['’]avoir", ((Kind.TITLE, 3),), "fr"),
    (r"credit\s*(?:nota|factuur)", ((Kind.TITLE, 3),), "nl"),
    (r"faktura\s+koryguj[ąa]ca|korekta", ((Kind.TITLE, 3),), "pl"),
    # --- the vendor's bank details ---
    (r"bank(?:\s+(?:account|name|details|code))?|iban|bic|swift(?:\s+code)?|ifsc(?:\s+code)?|sort\s+code|routing\s+number",
     ((Kind.BANK, 3),), "en"),
    (r"bankverbindung|kto\.?\s*-?\s*nr\.?|konto(?:nummer|nr\.?)?|blz", ((Kind.BANK, 3),), "de"),
    (r"banque|rib|nom\s+de\s+la\s+banque", ((Kind.BANK, 3),), "fr"),
    (r"rekening(?:nummer)?", ((Kind.BANK, 3),), "nl"),
    (r"(?:numer\s+)?rachunk[ua]", ((Kind.BANK, 3),), "pl"),
    # --- registration and tax ids: the issuer's identity is printed near them ---
    (r"vat\s*(?:reg(?:istration)?\.?\s*)?(?:no\.?|number|id)|tax\s+id|gstin|cin|pan|ein|company\s+(?:no|number)",
     ((Kind.REGISTRY, 3),), "en"),
    (r"ust\s*-?\s*id(?:\s*-?\s*nr\.?)?|steuer\s*-?\s*nr\.?|steuernummer|hrb|handelsregister|registergericht",
     ((Kind.REGISTRY, 3),), "de"),
    (r"siret|siren|rcs|tva\s+intra(?:communautaire)?|n[°º]\s+de\s+tva|capital\s+de", ((Kind.REGISTRY, 3),), "fr"),
    (r"kvk|btw\s*-?\s*(?:nummer|nr\.?|id)|btw", ((Kind.REGISTRY, 3),), "nl"),
    (r"nip|regon|krs", ((Kind.REGISTRY, 3),), "pl"),
    # --- other fields (they end a value and make up label blocks) ---
    (r"sub\s*-?\s*total|total\s+(?:ht|h\.t\.|excl\.?\w*|excluding\s+\w+|net|before\s+tax|tax|vat|tva|btw|mwst|hors\s+taxes?)",
     ((Kind.OTHER, 3),), "en"),
    (r"net\s+amount|tax|vat|discount|credits?|charges|quantity|qty|description|unit\s+price|rate|amount|price|notes?",
     ((Kind.OTHER, 1),), "en"),
    (r"order\s+(?:date|id|number|no\.?)|delivery\s+date|ship(?:ping)?\s+date|check\s*-?\s*(?:in|out)|p\.?o\.?\s+number",
     ((Kind.OTHER, 3),), "en"),
    (r"reference|ref\.|payment\s+(?:mode|method)|page|phone|tel\.?|fax|e-?mail|contract\s+no\.?", ((Kind.OTHER, 1),), "en"),
    (r"zwischensumme|netto(?:betrag)?|mwst\.?|ust\.?|bestell(?:datum|nummer)|liefer(?:datum|schein)|seite|zahlungsform",
     ((Kind.OTHER, 2),), "de"),
    (r"montant\s+(?:ht|tva)|tva|date\s+de\s+(?:commande|livraison)|num[ée]ro\s+de\s+(?:dossier|ligne|commande)|d[ée]signation",
     ((Kind.OTHER, 2),), "fr"),
    (r"subtotaal|exclusief\s+btw|order\s*(?:datum|nummer)|lever\s*datum|artikel|omschrijving|aantal|prijs|bedrag",
     ((Kind.OTHER, 2),), "nl"),
    (r"warto[śs][ćc]\s+netto|kwota\s+vat|ilo[śs][ćc]|cena|nazwa\s+towaru", ((Kind.OTHER, 2),), "pl"),
]

LABELS: list[tuple[re.Pattern[str], Label]] = [
    # `\s+` becomes `\s*`: OCR often drops the space between words ("Amountdue:").
    (re.compile(pattern.replace(r"\s+", r"\s*"), re.IGNORECASE), Label(pattern, kinds, lang))
    for pattern, kinds, lang in _TABLE
]

LANGUAGES = ("en", "de", "fr", "nl", "pl")


def _edge_ok(text: str, start: int, end: int) -> bool:
    """A label may not start or end inside a word, except where glued text begins a Titlecase word."""
    if start > 0 and text[start - 1] == "_" or end < len(text) and text[end] == "_":
        return False   # part of an identifier ("invoice_number_1")
    if start > 0 and text[start - 1].isalpha():
        glued_titlecase = text[start].isupper() and start + 1 < len(text) and text[start + 1].islower()
        if not glued_titlecase:
            return False
    if end < len(text) and text[end].isalpha() and text[end - 1].isalpha():
        return end + 1 < len(text) and text[end].isupper() and text[end + 1].islower()
    return True


def label_line(line: str) -> list[LabelHit]:
    """The labels in `line`, left to right; where labels overlap, the longest match wins."""
    found: list[LabelHit] = []
    for rx, label in LABELS:
        for m in rx.finditer(line):
            if m.end() > m.start() and _edge_ok(line, m.start(), m.end()):
                found.append(LabelHit(m.start(), m.end(), dict(label.kinds), label.lang, m.group(0)))
    found.sort(key=lambda h: (-(h.end - h.start), h.start))
    kept: list[LabelHit] = []
    for hit in found:
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def languages(hits: list[list[LabelHit]]) -> list[str]:
    """The document's languages, most used first, judged by its labels (language-neutral words aside)."""
    counts: Counter[str] = Counter(hit.lang for line in hits for hit in line if len(hit.text) > 3)
    ranked = [lang for lang, _ in counts.most_common() if lang in LANGUAGES]
    return ranked or ["en"]
