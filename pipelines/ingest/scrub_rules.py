"""The rules that find personal data in text: phone numbers, e-mails, flat numbers and
names, as RE2 patterns (``pyarrow.compute``), grouped by what triggers them and by mode.
:mod:`pipelines.ingest.scrub` applies them.

Modes (``text``, ``address``, ``id``): see :mod:`pipelines.ingest.scrub`.

The rules run through ``pyarrow.compute`` (Google RE2) rather than pandas' ``.str``
methods, which silently fall back to Python's ``re`` for some patterns: one engine, the
same answer whatever the dtype of the column, and RE2's linear-time matching cannot blow
up on hostile input. Each rule is one kernel call over all the (distinct, suspect) values
of a column, never one call per row. RE2 has no look-around, so:

- word boundaries are matched as a captured neighbouring character that the replacement
  writes back (``\\1``); a rule whose right boundary consumes a character runs twice so
  that two phone numbers separated by one character are both found;
- what must survive a rule is first *guarded*: a private-use character (U+E000, removed
  at the end, and from the input first) is written inside it so that the rule cannot
  match it: after the civility in a street name ("rue du Docteur\\uE000 Roux"), before
  words that cannot be a name ("Mme Diallo \\uE000Bâtiment C", "M. \\uE000le gardien").

The rules are written here rather than taken from a library: the French-language tools
for personal data (Presidio's French recognisers, spaCy NER models) are probabilistic,
need models not shipped offline, and miss the VTS conventions (civilities, "logt 46",
"au 3e gauche"); the rules below are measured on a labelled corpus
(``tests/data/scrub_corpus.tsv``, ``make bench``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Placeholder written in place of each kind of personal data.
PLACEHOLDERS: dict[str, str] = {
    "phones": "[téléphone]",
    "emails": "[courriel]",
    "flats": "[logement]",
    "names": "[nom]",
}

#: Scrubbing modes (see the module docstring).
MODES = ("text", "address", "id")

#: The mode of each ingestion role whose meaning must survive the name rules; every
#: other text role is free text (``"text"``).
ROLE_MODES: dict[str, str] = {
    "address": "address",
    "number": "address",
    "street": "address",
    "postcode": "address",
    "city": "address",
    "id": "id",
}

GUARD = "\ue000"  # written inside what a rule must not match, removed at the end
_G = r"\x{E000}"

_SP = r"[ \t\x{00A0}\x{202F}]"  # a space, including the (narrow) no-break spaces
# Letters as code point ranges, not Unicode classes: RE2 compiles ``\p{L}`` into a
# large automaton at each kernel call (pyarrow does not keep compiled patterns), about a
# millisecond per occurrence; these ranges (Latin with its accents and extensions,
# Greek, Cyrillic, Arabic, combining accents) cost a few microseconds.
_UPPER = (
    r"A-Z\x{00C0}-\x{00D6}\x{00D8}-\x{00DE}\x{0100}-\x{024F}\x{1E00}-\x{1EFF}\x{0391}-\x{03A9}"
    r"\x{0400}-\x{042F}"
)
_LOWER = (
    r"a-z\x{00DF}-\x{00F6}\x{00F8}-\x{00FF}\x{0100}-\x{024F}\x{1E00}-\x{1EFF}\x{03B1}-\x{03C9}"
    r"\x{0430}-\x{045F}"
)
_L = (
    r"A-Za-z\x{00AA}\x{00B5}\x{00BA}\x{00C0}-\x{00D6}\x{00D8}-\x{00F6}\x{00F8}-\x{02AF}"
    r"\x{0300}-\x{036F}\x{0370}-\x{03FF}\x{0400}-\x{052F}\x{0600}-\x{06FF}\x{1E00}-\x{1EFF}"
)
_N = r"0-9"
_NW = r"[^" + _L + _N + r"_]"  # a character that is not part of a word
_APOS = r"['\x{2019}]"


def _words(*groups: str) -> str:
    """An alternation of ``|``-separated word lists (longest first, so that RE2's
    leftmost-first choice takes "appartement" before "app")."""
    words = {w for group in groups for w in group.split("|") if w}
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))


# ----------------------------------------------------------------------------- phones
_PSEP = r"[ .\-/\x{00A0}\x{202F}]"  # separators between groups of digits
# The separators of a national number: as above, a doubled space, or a comma (each
# number writes one throughout, so "06,12,34,56,78" is no list of decimals).
_PSEPS = [" {1,2}", r"\.", "-", "/", ",", r"\x{00A0}", r"\x{202F}"]
_PSEP_FIRST = r"(?: {1,2}|[.\-/,\x{00A0}\x{202F}])"
# Before a number: not a digit, a letter, or a decimal point or comma that follows a
# digit ("34.0132764326" is a decimal, not "34." and a number).
_P_LEFT = r"(^|[^" + _L + _N + r".,+]|[^" + _N + r"][.,])"
_P_RIGHT = r"([^" + _L + _N + r"]|$)"


def _national() -> str:
    """French national numbers: 0, a digit 1-9, then eight digits, bare or grouped in
    any way with one separator throughout ("06 12 34 56 78", "0612 345 678",
    "06 12 34 56 7 8"); the separator after the 0 or after the prefix may differ or be
    there alone ("06 16.17.18.19", "0 612 345 678"). Mixed separators elsewhere are left
    alone: "06.12.23 14.30" is a date and a time.

    One alternative per separator, each optional between two digits (RE2 has no
    back-reference to say "the same separator"), rather than every grouping spelt out.
    """
    rest = "|".join(f"[0-9](?:(?:{sep})?[0-9]){{7}}" for sep in _PSEPS)
    return r"0" + _PSEP_FIRST + r"?[1-9]" + _PSEP_FIRST + "?(?:" + rest + ")"


_COUNTRY_00 = "33|32|41|352|377|44|49|34|39|351|212|213|216|221|223|225|237|243|262|590|594|596"
_PHONE = (
    _P_LEFT
    + "(?:"
    # +33 6 12 34 56 78, +33 (0)1 23 45 67 89, (+33) 612345678, and any +country number.
    + r"\(?\+"
    + _SP
    + r"?[1-9][0-9]{0,2}\)?"
    + _SP
    + r"?(?:\(0\)"
    + _SP
    + r"?)?[0-9](?:"
    + _PSEP
    + r"?[0-9]){7,11}"
    # 0033 6 12 34 56 78, 0032 …: the usual countries only (00 starts many ids).
    + r"|00"
    + _SP
    + r"?(?:"
    + _COUNTRY_00
    + r")"
    + _SP
    + r"?(?:\(0\)"
    + _SP
    + r"?)?[1-9](?:"
    + _PSEP
    + r"?[0-9]){7,10}"
    # 33612345678, 33 6 12 34 56 78: the + forgotten.
    + r"|33[1-9][0-9]{8}|33"
    + _SP
    + r"[1-9](?:"
    + "|".join(f"(?:{s}[0-9]{{2}}){{4}}" for s in _PSEPS)
    + r")"
    # 06 12 34 56 78 and its groupings.
    + "|"
    + _national()
    # 6 12 34 56 78: a mobile without its 0, in pairs.
    + r"|[67](?:"
    + "|".join(f"(?:{s}[0-9]{{2}}){{4}}" for s in _PSEPS)
    + r")"
    + ")"
    + _P_RIGHT
)

# North American numbers (NANP: area code and exchange 2-9, then 3 + 3 + 4 digits), with
# or without +1 or 1: "(212) 555-0147", "212-555-0147", "212.555.0147", "+1 212 555 0147",
# "1-212-555-0147". Groups of 3, 3 and 4 are neither a date nor a French number written
# in thousands ("1 234 567"); the left boundary also refuses a hyphen or a slash, so that
# an id ("DI-212-555-0147") keeps its digits.
_NANP_LEFT = r"(^|[^" + _L + _N + r".,+\-/_])"
_NANP = (
    _NANP_LEFT
    + r"((?:\+"
    + _SP
    + r"?1[ .\-\x{00A0}]?|1[ .\-])?(?:\([2-9][0-9]{2}\)"
    + _SP
    + r"?|[2-9][0-9]{2}[ .\-\x{00A0}])[2-9][0-9]{2}[ .\-\x{00A0}][0-9]{4}"
    + r"|\+"
    + _SP
    + r"?1[ .\-\x{00A0}]?[2-9][0-9]{2}[ .\-]?[2-9][0-9]{2}[ .\-]?[0-9]{4})"
    + _P_RIGHT
)

_PHONE_WORDS = _words(
    "tel|tél|tel.|tél.|telephone|téléphone|tph|phone|portable|mobile|gsm|fixe|fax|whatsapp"
    "|numéro de téléphone|numero de telephone|n° de tel|n° de tél|n° tel|n° tél|num tel"
)
# After a word that announces a phone number, any run of 8 to 14 digits is one.
_PHONE_AFTER_WORD = (
    r"(^|"
    + _NW
    + r")((?i:"
    + _PHONE_WORDS.replace(".", r"\.")
    + r")\.?"
    + _SP
    + r"*(?:[:=]"
    + _SP
    + r"*)?)\+?[0-9](?:"
    + _PSEP
    + r"?[0-9]){7,13}"
    + _P_RIGHT
)

# ----------------------------------------------------------------------------- e-mails
_LOCAL = r"[" + _L + _N + r"._%+\-]+"
_LABEL = r"[" + _L + _N + r"\-]+"
_OPEN, _CLOSE = r"[(\[{<]", r"[)\]}>]"
_AT_WORD = r"(?i:at|arobase|arrobase|arobas|arrobas)"
_DOT_WORD = r"(?i:dot|point|pt)"
_TLD = (
    r"(?i:fr|com|net|org|eu|info|biz|be|ch|lu|de|es|it|pt|nl|uk|ca|us|io|me|co|ma|dz|tn|sn"
    r"|ci|cm|re|gp|mq|gf|yt|nc|pf)"
)
_AT_SPELLED = (
    r"(?:" + _SP + r"*" + _OPEN + _SP + r"*(?:" + _AT_WORD + r"|@)" + _SP + r"*" + _CLOSE
    + _SP + r"*|" + _SP + r"+" + _AT_WORD + _SP + r"+)"
)  # fmt: skip
_DOT_SPELLED = (
    r"(?:" + _SP + r"*" + _OPEN + _SP + r"*" + _DOT_WORD + _SP + r"*" + _CLOSE + _SP + r"*|"
    + _SP + r"+" + _DOT_WORD + _SP + r"+)"
)  # fmt: skip
_EMAIL = (
    r"(?:"
    # name@domain.tld, élodie.gérard@exemple.fr, petit@localhost (one label).
    + _LOCAL + r"@" + _LABEL + r"(?:\." + _LABEL + r")*"
    # Spaces around the @ (and the last dot, before a known domain): "x @ free . fr".
    + r"|" + _LOCAL + _SP + r"*@" + _SP + r"*" + _LABEL + r"(?:\." + _LABEL + r")*"
    + _SP + r"*\." + _SP + r"*" + _TLD
    # Spaces around every dot and the @, as dictated: "jean . dupont @ gmail . com".
    + r"|" + _LOCAL + r"(?:" + _SP + r"+\." + _SP + r"+" + _LOCAL + r")+" + _SP + r"*@"
    + _SP + r"*" + _LABEL + r"(?:" + _SP + r"*\." + _SP + r"*" + _LABEL + r")*" + _SP
    + r"*\." + _SP + r"*" + _TLD
    # Spelled out: moreau at gmail dot com, jean dot dupont at gmail dot com,
    # a.b (at) free (point) fr, x[at]y[dot]com, x arobase y.fr.
    + r"|" + _LOCAL + r"(?:" + _DOT_SPELLED + _LOCAL + r")*" + _AT_SPELLED + _LABEL
    + r"(?:(?:\.|" + _DOT_SPELLED + r")" + _LABEL + r")+"
    + r")"
    + _P_RIGHT
)  # fmt: skip

# ----------------------------------------------------------------------------- flats
_FLAT_WORDS = _words(
    "appartement|appartements|appart|apart|appt|appts|app|apt|apts|ap"
    "|logement|logt|lgt|lgmt|log|porte|chambre|chbre|studio|bal|boîte aux lettres"
    "|boite aux lettres"
)
_NUM_WORDS = r"(?i:n°|nº|no|n|num|numéro|numero|#)\.?"
_FLAT_NUMBER = r"(?:[A-Za-z]{1,2}-?)?[0-9]+(?:[\-/][0-9]+)?(?:" + _SP + r"?(?i:bis|ter)|[A-Za-z])?"
_FLAT = (
    r"(^|"
    + _NW
    + r")(?:"
    + _NUM_WORDS
    + _SP
    + r"*(?:(?i:d)"
    + _APOS
    + _SP
    + r"?|(?i:de|du)"
    + _SP
    + r"+)?)?(?i:"
    + _FLAT_WORDS
    + r")\.?"
    + _SP
    + r"*(?::"
    + _SP
    + r"*)?(?:"
    + _NUM_WORDS
    + _SP
    + r"*)?"
    + _FLAT_NUMBER
    + _P_RIGHT
)
# "logements 12 et 14", "logts 12, 14 et 16": the list goes with its plural.
_FLATS_LIST = (
    r"(^|" + _NW + r")(?i:appartements|apparts|appts|apts|logements|logts|lgts|portes"
    r"|chambres|studios)\.?" + _SP + r"*(?::" + _SP + r"*)?(?:" + _NUM_WORDS + _SP + r"*)?"
    + _FLAT_NUMBER + r"(?:" + _SP + r"*(?:,|&|/|(?i:et))" + _SP + r"*(?:" + _NUM_WORDS + _SP
    + r"*)?" + _FLAT_NUMBER + r")+" + _P_RIGHT
)  # fmt: skip
# "porte 3 du hall", "portes 1 et 2 de la cave", "parking porte 2": a door of a common part
# where no one lives, not a flat's. "porte" alone is a flat's door in VTS notes ("sonner
# porte 12", "4e étage, porte 42"), so these are guarded (the door word gets :data:`GUARD`)
# before the flat rules run, rather than "porte" needing a flat word beside it.
_COMMON_PARTS = _words(
    "hall|halls|cave|caves|parking|parkings|local|locaux|sous-sol|garage|garages|cour"
    "|chaufferie|vide-ordures|toit|toiture|terrasse|grenier|jardin|loge|ascenseur|machinerie"
    "|box|local poubelles|local vélos|local velos|local à vélos|issue de secours"
)
_OF = (
    r"(?:(?i:du|des|au|aux)" + _SP + r"+|(?i:de)" + _SP + r"+(?:(?i:la)" + _SP + r"+|(?i:l)"
    + _APOS + _SP + r"?)?|(?i:d|l)" + _APOS + _SP + r"?)"
)  # fmt: skip
_DOOR_OF_COMMON_PART = (
    r"(^|" + _NW + r")((?i:portes?)\.?)(" + _SP + r"*(?:" + _NUM_WORDS + _SP + r"*)?"
    + _FLAT_NUMBER + r"(?:" + _SP + r"*(?:,|&|/|(?i:et))" + _SP + r"*(?:" + _NUM_WORDS + _SP
    + r"*)?" + _FLAT_NUMBER + r")*" + _SP + r"+" + _OF + r"(?i:" + _COMMON_PARTS + r")"
    + _P_RIGHT + r")"
)  # fmt: skip
_COMMON_PART_DOOR = (
    r"(^|" + _NW + r")((?i:parking|parkings|cave|caves|local|sous-sol|garage|garages|cour"
    r"|chaufferie|local poubelles|local vélos)(?:" + _SP + r"+[A-Za-z0-9]{1,3})?" + _SP
    + r"*[,:\-]?" + _SP + r"*(?i:portes?)\.?)"
)  # fmt: skip

# "au 3e gauche", "2e étage porte droite", "1er à droite": the floor stays, the door goes.
_FLOOR = r"[0-9]{1,2}" + _SP + r"?(?i:ème|eme|ère|ere|er|re|e|è)"
_FLOOR_DOOR = (
    r"(^|" + _NW + r")(" + _FLOOR + r"(?:" + _SP + r"+(?i:étage|etage|ét\.|et\.))?)" + _SP
    + r"+(?:(?i:porte|à|a)" + _SP + r"+)?(?i:gauche|droite|face|en face|milieu|du milieu"
    r"|fond|du fond)" + _P_RIGHT
)  # fmt: skip

# A floor named in a report's text ("3e étage", "au 2ème", "1er étage"): kept by the
# scrubber (it locates a problem at building scale) but it narrows a report down to a few
# households. The door after it ("3e gauche") is already "[logement]".
FLOOR_NAMED = (
    r"(?:^|" + _NW + r")(?:" + _FLOOR + _SP + r"*(?i:étage|etage|ét\.|et\.)"
    + r"|(?i:au|du)" + _SP + r"+" + _FLOOR + r")" + _P_RIGHT
)  # fmt: skip

# ----------------------------------------------------------------------------- names
# Civilities after which a lower-case word is a name: written in lower case themselves
# ("mme richardeau"), as in a note typed all in lower case; "Madame habite" is a verb.
# Not "dr", which is also "droite" in terse notes ("3e dr fuite").
_CIVILITY_LOW = (
    r"(?:madame|mme|mmes|monsieur|mr|mademoiselle|mlle|mlles|melle|mle|messieurs|mesdames"
    r"|docteur|MME|MLLE|MR)"
)
# "Me" (maître) only with its capital: "me" is a pronoun.
_CIVILITY = (
    r"(?:M|MM|Me|(?i:mr|mme|mmes|mlle|mlles|melle|mle|monsieur|madame|mademoiselle|messieurs"
    r"|mesdames|docteur|dr|maître|maitre))"
)
# Plural civilities name several people: "Mmes Dupont et Durand", "MM. Diallo, Koné".
_PLURAL_CIVILITY = r"(?:MM|(?i:mmes|mlles|messieurs|mesdames))"
_AFTER_CIVILITY = r"(?:\." + _SP + r"*|" + _SP + r"+)"  # "M. X", "M.X", "M X", "Mme X"
_CAP = (
    r"(?:["
    + _UPPER
    + r"]\.(?:-?["
    + _UPPER
    + r"]\.)*|["
    + _UPPER
    + r"]["
    + _L
    + _APOS[1:-1]
    + r"\-]*)"
)
_LOW = r"[" + _LOWER + r"][" + _L + _APOS[1:-1] + r"\-]+"
# Name particles: de, du, des, d', de la, de l', van (der), von, ben, el, da, dos…
_PARTICLE = (
    _G
    + r"?(?:(?:de"
    + _SP
    + r"+"
    + _G
    + r"?(?:la"
    + _SP
    + r"+|l"
    + _APOS
    + _SP
    + r"?))|(?:de|du|des|van|von|der|den|ben|bin|ibn|el|al|ould|da|dos|das|di|del|della"
    r"|ter|ten|mac|bou)" + _SP + r"+|(?:d|l)" + _APOS + _SP + r"?)"
)
_PARTICLES = r"(?:" + _PARTICLE + r"){0,3}"
_MORE_NAMES = r"(?:" + _SP + r"+" + _PARTICLES + _CAP + r"){0,3}"
# After a particle, a word is a name even if it is a place word: "Mme de la Tour".
_FIRST_NAME = r"(?:(?:" + _PARTICLE + r"){1,3}" + _G + r"?)?" + _CAP
# In a note typed in lower case, "le" and "la" begin names too: "mme le goff" ("monsieur le
# gardien" stays: "gardien" is marked).
_LOW_PARTICLE = r"(?:" + _PARTICLE + r"|" + _G + r"?(?:le|la)" + _SP + r"+)"
_NAME_AFTER_CIVILITY = (
    r"(^|" + _NW + r")(?:"
    + _CIVILITY + _AFTER_CIVILITY + _FIRST_NAME
    + r"|(?:" + _CIVILITY_LOW + _AFTER_CIVILITY + r"|M\." + _SP + r"*)"
    + r"(?:" + _LOW_PARTICLE + r"){0,3}" + _LOW
    + r")"
    + _MORE_NAMES
)  # fmt: skip
# In an identifier ("DI-2024-00003 Mme Durand"), only a capitalised word of two letters
# or more after a civility and a space or a full stop is a name: "MME-45", "DR-2024-001",
# "M12-3" and "Dr 3" stay whole.
_NAME_IN_ID = (
    r"(^|" + _NW + r")" + _CIVILITY + _AFTER_CIVILITY + r"(?:(?:" + _PARTICLE + r"){1,3}"
    + _G + r"?)?[" + _UPPER + r"][" + _L + _APOS[1:-1] + r"\-]+" + _MORE_NAMES
)  # fmt: skip
_CAP_WORD = r"[" + _UPPER + r"][" + _L + _APOS[1:-1] + r"\-]+"
_NAMES_AFTER_PLURAL = (
    r"(^|" + _NW + r")" + _PLURAL_CIVILITY + _AFTER_CIVILITY + _FIRST_NAME + _MORE_NAMES
    + r"(?:" + _SP + r"*" + _G + r"?(?:,|&|(?i:et))" + _SP + r"*" + _PARTICLES + _CAP_WORD
    + _MORE_NAMES
    + r"){1,3}"
)  # fmt: skip
# "chez Dupont", "famille Diallo", "nom : Dupont": the lead word stays (no initial: "chez
# M. et Mme Fofana" is a civility).
_NAME_AFTER_WORD = (
    r"(^|" + _NW + r")((?i:chez|famille|fam\.)" + _SP + r"+)" + _PARTICLES + _CAP_WORD
    + _MORE_NAMES
)  # fmt: skip
# Without a civility, a name goes only after a phrase that announces the person who
# reported or is to be called: "signalé par Jean Dupont", "de la part de Karim Benali",
# "contact : Fatou Diop". Capitalised words only ("signalé par le gardien" stays, as do
# the words marked as no name: "signalé par Bâtiment C"), so that a street that bears a
# person's name, which a cue does not announce ("rue Jean Jaurès"), is left alone. The
# cue's small words may carry the mark of the lower-case guard.
_CUE = (
    r"(?i:signal(?:é|e|ée|ee)s?)" + _SP + r"+" + _G + r"?(?i:par)"
    + r"|" + _G + r"?(?i:de)" + _SP + r"+" + _G + r"?(?i:la)" + _SP + r"+" + _G + r"?(?i:part)"
    + _SP + r"+" + _G + r"?(?i:de)"
    + r"|(?i:contact|personne à contacter|à contacter)" + _SP + r"*:"
)  # fmt: skip
_NAME_AFTER_CUE = (
    r"(^|" + _NW + r")((?:" + _CUE + r")" + _SP + r"*)" + _PARTICLES + _CAP_WORD + _MORE_NAMES
)
# Organisations a cue may announce ("signalé par Paris Habitat", "de la part de
# Seine-Saint-Denis Habitat", "contact : Ville de Bondy"): marked as no name.
_ORG_WORDS = _words(
    "habitat|logement|logements|immobilière|immobiliere|hlm|oph|opac|foncière|fonciere"
    "|ville|police|préfecture|prefecture|commissariat|département|departement|région|region"
    "|conseil|association|amicale|collectif|agence|société|societe|service|services|régie"
    "|regie|équipe|equipe|cabinet|sncf|ratp|caf|ccas|cpam|edf|engie|enedis|grdf|veolia"
)

# In an address, only a name after "chez" or "c/o" goes (no civility rule: street names).
_NAME_IN_ADDRESS = (
    r"(^|" + _NW + r")((?i:chez|c/o|a/s|aux bons soins de)" + _SP + r"+)(?:" + _CIVILITY
    + _AFTER_CIVILITY + r")?" + _PARTICLES + _CAP_WORD + _MORE_NAMES
)  # fmt: skip
_NAME_AFTER_LABEL = (
    r"(^|"
    + _NW
    + r")((?i:nom|prénom|prenom|nom et prénom|nom prénom|nom/prénom|noms|locataire|demandeur"
    r"|demandeuse|déclarant|declarant|déclarante|signalant|signalante|occupant|occupante"
    r"|résident|resident|résidente|habitant|habitante)"
    + _SP
    + r"*:"
    + _SP
    + r"*)"
    + _PARTICLES
    + r"(?:"
    + _CAP
    + r"|"
    + _LOW
    + r")"
    + _MORE_NAMES
)

# Street names: the civility or title after a kind of street keeps its name.
# Kinds of streets and public places that bear people's names; not the parts of a
# building ("escalier", "porte", "cour", "tour"): "dans l'escalier Mme Diallo a glissé".
_STREETS = _words(
    "rue|r.|avenue|av.|av|ave|boulevard|bd|bld|blvd|bvd|place|pl.|square|sq.|allée|allee"
    "|impasse|imp.|quai|cours|chemin|ch.|chem.|passage|pass.|cité|cite|villa|route|rte"
    "|chaussée|chaussee|esplanade|promenade|parvis|pont|sentier|sente|venelle|galerie"
    "|hameau|rond-point|carrefour|jardin|jardins|parc|résidence|residence|rés.|res."
    "|groupe|scolaire|école|ecole|collège|college|lycée|lycee|hôpital|hopital|clinique"
    "|centre|stade|gymnase|piscine|voie|ruelle|faubourg|fg|fbg|quartier|métro|metro"
    "|station|gare|lotissement|montée|traverse|halle|marché|marche|foyer|ehpad|crèche"
    "|creche|médiathèque|bibliothèque|cimetière|berge|berges|passerelle"
)
_TITLES = (
    r"(?:M\.|MM\.|M|(?i:monsieur|madame|mademoiselle|messieurs|mesdames|docteur|docteurs"
    r"|dr|mme|mlle|mr|général|general|gal|gén|maréchal|marechal|mal|colonel|commandant"
    r"|capitaine|lieutenant|amiral|président|president|abbé|abbe|professeur|pr|saint|sainte"
    r"|st|ste|père|pere|frère|frere|sœur|soeur|maître|maitre|me|cardinal|pasteur|rabbin"
    r"|roi|reine|comte|comtesse|baron|duc|duchesse|prince|princesse)\.?)"
)
_STREET_TITLE = (
    r"(^|"
    + _NW
    + r")((?i:"
    + _STREETS.replace(".", r"\.")
    + r")"
    + _SP
    + r"+(?:(?i:du|des|de|de la|de l'|d'|de l’|d’|la|le|les)"
    + _SP
    + r"*)?"
    + _TITLES
    + r")"
)

# Words that cannot be a name: after a civility ("M. le gardien", "Madame signale",
# "Mme Diallo Bâtiment C"). In any case: places, building words and roles. In lower case
# only: small words, verbs and adverbs of VTS notes, and the roles that are also
# surnames ("Voisin"), which, capitalised, are names ("Le Goff", "La Fontaine").
_NOT_NAMES_ANY_CASE = _words(
    "bâtiment|batiment|bât|bat|escalier|esc|entrée|entree|hall|cage|tour|porte|appartement"
    "|appart|appt|apt|logement|logt|résidence|residence|rés|res|rue|allée|allee|avenue|av"
    "|boulevard|bd|place|impasse|parking|cave|caves|étage|etage|rdc|sous-sol|loge|cité|cite"
    "|square|chemin|quai|local|ascenseur|palier|couloir|immeuble|bloc|aile|niveau|box"
    "|garage|terrasse|balcon|cuisine|salon|sdb|wc|toilettes"
    "|gardien|gardienne|gardiens|maire|directeur|directrice|président|présidente|president"
    "|presidente|responsable|technicien|technicienne|agent|agents|préfet|prefet|commissaire"
    "|adjoint|adjointe|conseiller|conseillère|délégué|déléguée|chargé|chargée|médecin"
    "|medecin|locataire|locataires|propriétaire|proprietaire|concierge|député|députée"
    "|sénateur|ministre|professeur|policier|pompier|pompiers|plombier|électricien"
    "|electricien|serrurier|prestataire|entreprise|syndic|bailleur|mairie|habitant"
    "|habitante|résident|résidente|resident|occupant|occupante|demandeur|demandeuse"
    "|chauffagiste|ascensoriste|vigile|médiateur|médiatrice|éducateur|éducatrice|assistant"
    "|assistante|infirmier|infirmière|facteur|livreur|menuisier|peintre|vitrier|dératiseur"
    "|gestionnaire|chef|commercial|curé|préfète|commandant|capitaine|lieutenant|brigadier"
    "|policière|gendarme|contrôleur|inspecteur|inspectrice|expert|experte|huissier|notaire"
    "|avocat|avocate|élu|élue|architecte|ingénieur|conducteur|ouvrier|jardinier|employé"
    "|employée|stagiaire|représentant|représentante|secrétaire|comptable|coordinateur"
    "|coordinatrice|animateur|animatrice|surveillant|surveillante|tuteur|tutrice|curateur"
    "|curatrice|mandataire|délégué|déléguée"
    "|usager|usagère|famille|tel|tél|téléphone|telephone|mail|courriel|portable|mobile|sms"
    "|svp|merci|bonjour|ok|idem|inconnu|inconnue|anonyme|nc|nr|néant|neant|x|xx|xxx"
)
_NOT_NAMES_LOWER = _words(
    "le|la|les|l|un|une|des|de|du|d|au|aux|à|a|en|y|se|s|ne|n|qu|que|qui|quoi|dont|où|ou"
    "|et|ni|soit|me|m|te|t|sur|dans|chez|pour|par|avec|sans|pas|plus|très|tres|car|donc"
    "|mais|puis|ensuite|depuis|hier|aujourd|ce|cet|cette|ces|son|sa|ses|leur|leurs|mon|ma"
    "|mes|votre|notre|nos|vos|il|elle|ils|elles|on|nous|vous|je|j|lui|eux|moi|toi|même"
    "|meme|aussi|également|egalement|encore|toujours|jamais|rien|tout|tous|toute|toutes"
    "|déjà|deja|bien|mal|non|oui|ci|voisin|voisine|voisins|voisines|client|cliente|enfant"
    "|enfants|fils|fille|mari|épouse|epouse|femme|mère|mere|père|pere|frère|soeur|sœur|dame"
    "|âgé|âgée|agé|agée|seul|seule|malade|handicapé|handicapée|enceinte|juge|environ"
    "|signale|signalé|signalée|signalent|appelle|appel|appelé|appelée|rappeler|rappelle"
    "|rappel|rappelé|rappelée|demande|demandé|demandée|indique|indiqué|indiquée|dit|dis"
    "|déclare|déclaré|declare|informe|informé|informée|prévenu|prévenue|prevenu|prévenir"
    "|absent|absente|absents|présent|présente|present|souhaite|souhaiterait|voudrait|veut"
    "|refuse|refusé|accepte|accepté|relance|relancé|relancée|confirme|confirmé|précise"
    "|precise|ajoute|explique|constate|réclame|reclame|plaint|sera|serait|est|était|etait"
    "|avait|aura|ont|sont|étaient|fait|fera|contacté|contactée|contacter|joint|jointe"
    "|joindre|joignable|injoignable|passé|passée|passera|venu|venue|viendra|attend|attendre"
    "|reçu|reçue|recu|recue|vu|vue|habite|vit|occupe|loue|travaille|pense|trouve|croit"
    "|voit|entend|sent|subit|dort|reste|part|rentre|sort|revient|écrit|ecrit|envoie"
    "|transmet|montre|répond|repond|regrette|remercie|insiste|craint|doit|peut|pourrait"
    "|devrait|aimerait|concernant|concerné|concernée|message|messagerie|répondeur"
    "|repondeur|ayant|étant|qu'il|qu'elle|dispose|possède|signalant|ignore|affirme|assure"
    "|aucun|aucune|personne|vacant|vacante|vide|sans|non|renseigné|renseignée"
)
_NOT_GUARDED = r"[^" + _L + _N + r"_\x{E000}]"  # a word's left boundary, not marked yet
_GUARD_ANY_CASE = (
    r"(^|" + _NOT_GUARDED + r")((?i:" + _NOT_NAMES_ANY_CASE + r"))([^" + _L + _N + r"_\-]|$)"
)
_GUARD_LOWER = r"(^|" + _NOT_GUARDED + r")(" + _NOT_NAMES_LOWER + r")([^" + _L + _N + r"_\-]|$)"
_GUARD_ORGS = (
    r"(^|" + _NOT_GUARDED + r")((?:[" + _UPPER + r"][" + _L + r"\-]*" + _SP + r"+){0,3}(?i:"
    + _ORG_WORDS + r"))([^" + _L + _N + r"_\-]|$)"
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One scrubbing rule: an RE2 pattern whose matches become ``replacement``.

    ``kind`` is the kind of personal data it removes, or ``"guard"`` for a rule that
    only protects text from the next rules (it writes :data:`GUARD` and no placeholder).
    """

    kind: str
    pattern: str
    replacement: str


_PHONE_RULES = (
    Rule("phones", _PHONE, r"\1" + PLACEHOLDERS["phones"] + r"\2"),
    Rule("phones", _PHONE_AFTER_WORD, r"\1\2" + PLACEHOLDERS["phones"] + r"\3"),
    Rule("phones", _NANP, r"\1" + PLACEHOLDERS["phones"] + r"\3"),
)
_EMAIL_RULES = (Rule("emails", _EMAIL, PLACEHOLDERS["emails"] + r"\1"),)
_FLAT_RULES = (
    # A door of a common part ("porte 3 du hall", "parking porte 2") is no flat's.
    Rule("guard", _DOOR_OF_COMMON_PART, r"\1\2" + GUARD + r"\3"),
    Rule("guard", _COMMON_PART_DOOR, r"\1\2" + GUARD),
    Rule("flats", _FLATS_LIST, r"\1" + PLACEHOLDERS["flats"] + r"\2"),
    Rule("flats", _FLAT, r"\1" + PLACEHOLDERS["flats"] + r"\2"),
    Rule("flats", _FLOOR_DOOR, r"\1\2 " + PLACEHOLDERS["flats"] + r"\3"),
)
_NAME_RULES = (
    # Street names keep the title that begins them: "rue du Docteur Roux".
    Rule("guard", _STREET_TITLE, r"\1\2" + GUARD),
    # Words that are not names are marked: a name cannot begin with the mark. Twice,
    # as a word's right boundary may be the next one's left ("M. le le").
    Rule("guard", _GUARD_ANY_CASE, r"\1" + GUARD + r"\2\3"),
    Rule("guard", _GUARD_LOWER, r"\1" + GUARD + r"\2\3"),
    Rule("guard", _GUARD_LOWER, r"\1" + GUARD + r"\2\3"),
    Rule("names", _NAMES_AFTER_PLURAL, r"\1" + PLACEHOLDERS["names"]),
    Rule("names", _NAME_AFTER_CIVILITY, r"\1" + PLACEHOLDERS["names"]),
    Rule("names", _NAME_AFTER_WORD, r"\1\2" + PLACEHOLDERS["names"]),
    Rule("names", _NAME_AFTER_LABEL, r"\1\2" + PLACEHOLDERS["names"]),
    Rule("guard", _GUARD_ORGS, r"\1" + GUARD + r"\2\3"),
    Rule("names", _NAME_AFTER_CUE, r"\1\2" + PLACEHOLDERS["names"]),
)

# Each group of rules runs only on the values its cheap trigger flags (a superset of
# what the rules match: "comme" holds "mme"), and not at all when none is flagged:
# pyarrow compiles a pattern at every kernel call, and most calls (a cell, a note, a
# batch of rejected rows) hold no phone, no e-mail, no civility.
_TRIGGER_EMAILS = r"@|(?i:[ (\[{<]at[ )\]}>]|arr?obas)"
# A number that starts as a phone does (+, (, 0, 33, or 6/7 and a separator) and has
# eight more digits; or a word that announces one. Ids such as "DI-2024-0000123" are
# not flagged (every row's id goes through this).
_TRIGGER_PHONES = (
    r"(?:^|[^0-9])(?:\+|\(|0|33|[67][ .\-/,\x{00A0}\x{202F}])[ ()+]*"
    r"(?:[ .\-/,()\x{00A0}\x{202F}]{0,2}[0-9]){8}"
    r"|(?i:t[eé]l|phone|portable|mobile|gsm|fixe|fax|whatsapp|tph)"
    r"|[0-9]{3}[ .\-\x{00A0}][0-9]{3}[ .\-\x{00A0}][0-9]{4}"
)
_TRIGGER_FLATS = (
    r"(?i:ap|lo|lg|porte|chambre|chbre|studio|bal|bo[iî]te|gauche|droite|face|milieu|fond)"
)
_TRIGGER_NAMES = (
    r"M[.\s\x{00A0}\x{202F}]|MM|Me[.\s\x{00A0}\x{202F}]|(?i:ma[iî]tre)"
    r"|(?i:mr|mme|mlle|melle|mle|monsieur|madame|mademoiselle"
    r"|messieurs|mesdames|docteur|dr|chez|famille|fam\.|nom|pr[ée]nom|locataire|demandeu"
    r"|d[ée]clarant|signalant|occupant|r[ée]sident|habitant|signal[ée]{1,2}s?[ \x{00A0}]+par"
    r"|part d|contact)"
)


# Characters that hide personal data from the rules while a reader sees none of them, or
# sees the text turned around: soft hyphen, zero-width spaces and joiners, direction
# marks, embeddings, overrides and isolates, word joiner and invisible operators,
# byte-order mark (``INVISIBLE``, taken out); spaces and hyphens of other widths,
# full-width forms, digits and letters in another style (mathematical bold or
# monospace « 𝟎𝟔 », circled « ⓪⑥ », superscript « ⁰⁶ », the « fancy text » of social
# networks) and digits of other scripts (Arabic-Indic « ٠٦ », Devanagari « ०६ »…)
# (``DISGUISED``, written as their plain forms). Text pasted from a web page, Word or a
# PDF carries them: « 06\u200b12 34 56 78 » shows a phone number.
INVISIBLE = (
    r"[\x{00AD}\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{2069}"
    r"\x{FEFF}]"
)


#: The decimal digits of scripts other than ASCII, code points (all in Unicode's first
#: two planes).
OTHER_DIGIT_CODES = tuple(
    c for c in range(0x80, 0x20000) if unicodedata.decimal(chr(c), None) is not None
)


def _ranges(codes: tuple[int, ...]) -> str:
    """Code points as RE2 class ranges (RE2 cannot subtract ``[0-9]`` from
    ``\\p{Nd}``): « \\x{660}-\\x{669}\\x{6F0}-\\x{6F9}… »."""
    ranges: list[list[int]] = []
    for c in codes:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)


#: Digits of other scripts (each read as its value by
#: :func:`pipelines.ingest.scrub.plain_digits`).
OTHER_DIGITS = f"[{_ranges(OTHER_DIGIT_CODES)}]"
DISGUISED = (
    r"[\x{00AD}\x{2000}-\x{2012}\x{202A}-\x{202E}\x{205F}-\x{2064}\x{2066}-\x{2069}"
    r"\x{2070}-\x{209F}\x{2212}\x{2460}-\x{24FF}\x{2776}-\x{2793}\x{3000}\x{FEFF}"
    r"\x{FF01}-\x{FF5E}\x{1D400}-\x{1D7FF}\x{1F100}-\x{1F10C}]|" + OTHER_DIGITS
)
#: Hyphens written as ``-`` once disguised text is normalised (NFKC keeps them).
HYPHENS = r"[\x{2010}-\x{2012}\x{2212}]"


@dataclass(frozen=True)
class Group:
    """Rules that run together, on the values that ``trigger`` flags."""

    trigger: str
    rules: tuple[Rule, ...]


GROUPS: dict[str, Group] = {
    "emails": Group(_TRIGGER_EMAILS, _EMAIL_RULES),
    "phones": Group(_TRIGGER_PHONES, (*_PHONE_RULES, *_PHONE_RULES)),
    "flats": Group(_TRIGGER_FLATS, _FLAT_RULES),
    "names": Group(_TRIGGER_NAMES, _NAME_RULES),
    "names_in_id": Group(
        r"(?:^|[^A-Za-z])(?:M|MM|(?i:mr|mme|mmes|mlle|mlles|melle|mle|monsieur|madame"
        r"|mademoiselle|messieurs|mesdames|docteur|dr))[.\s\x{00A0}\x{202F}]",
        (
            Rule("guard", _GUARD_ANY_CASE, r"\1" + GUARD + r"\2\3"),
            Rule("names", _NAME_IN_ID, r"\1" + PLACEHOLDERS["names"]),
        ),
    ),
    "names_in_address": Group(
        r"(?i:chez|c/o|a/s|aux bons soins)",
        (Rule("names", _NAME_IN_ADDRESS, r"\1\2" + PLACEHOLDERS["names"]),),
    ),
}

#: The groups of rules of each mode, in the order they run. E-mails first (their local
#: part may hold digits and names); the phone rules twice (see the module docstring).
GROUPS_BY_MODE: dict[str, tuple[str, ...]] = {
    "text": ("emails", "phones", "flats", "names"),
    "address": ("emails", "phones", "flats", "names_in_address"),
    "id": ("emails", "phones", "names_in_id"),
}
#: The rules of each mode, in the order they run.
RULES_BY_MODE: dict[str, tuple[Rule, ...]] = {
    mode: tuple(rule for g in groups for rule in GROUPS[g].rules)
    for mode, groups in GROUPS_BY_MODE.items()
}
#: Every rule of the free-text mode.
RULES: tuple[Rule, ...] = RULES_BY_MODE["text"]
TRIGGERS = {
    mode: "|".join([*(GROUPS[g].trigger for g in groups), DISGUISED])
    for mode, groups in GROUPS_BY_MODE.items()
}
TRIGGER_ID = TRIGGERS["id"]
