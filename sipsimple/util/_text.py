"""Text with translations."""

from __future__ import annotations


class MultilingualText(str):
    """A string in a default language that also carries translations into other languages.

    ``MultilingualText("Away", fr="Absent", de="Abwesend")`` is ``"Away"`` wherever a str is expected;
    ``get_translation("fr")`` returns ``"Absent"`` and falls back to the default text for unknown
    languages. Language tags compare case-insensitively (RFC 5646).
    """

    translations: dict[str, str]

    def __new__(cls, text: str = "", language: str = "en", **translations: str) -> MultilingualText:
        instance = super().__new__(cls, text)
        instance.language = language.lower()
        instance.translations = {
            lang.replace("_", "-").lower(): str(value) for lang, value in translations.items()
        }
        instance.translations.setdefault(instance.language, str(text))
        return instance

    language: str

    def get_translation(self, language: str) -> str:
        return self.translations.get(language.replace("_", "-").lower(), str(self))

    def __repr__(self) -> str:
        extra = {k: v for k, v in self.translations.items() if k != self.language}
        args = "".join(f", {k.replace('-', '_')}={v!r}" for k, v in sorted(extra.items()))
        return f"{type(self).__name__}({str(self)!r}, language={self.language!r}{args})"

    def __reduce__(self) -> tuple[object, ...]:
        extra = {k.replace("-", "_"): v for k, v in self.translations.items() if k != self.language}
        return (_rebuild_multilingual_text, (str(self), self.language, extra))


def _rebuild_multilingual_text(text: str, language: str, translations: dict[str, str]) -> MultilingualText:
    return MultilingualText(text, language, **translations)
