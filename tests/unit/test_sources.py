"""Sources of an answer: snippets in plain text, a document's own title, one source per document."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from adapters.knowledge.files import FileReader
from adapters.knowledge.markdown import MarkdownRenderer, markdown_title
from application.sources import sources_of
from domain.knowledge import ScoredChunk, TextBlock, cut_at_word, snippet
from tests.adapters.knowledge.pdf import pdf_bytes

RENDERER = MarkdownRenderer()


def clean(text: str, title: str = "Otro", limit: int = 300) -> str:
    return snippet(RENDERER.blocks(text), title, limit)


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("# Facturas y pagos\n\nLa factura llega el día 1.", "Facturas y pagos. La factura llega el día 1."),
        ("Setext\n======\n\ntexto", "Setext. texto"),
        ("Pulsa **Guardar** y _luego_ ~~nada~~ ***Salir***.", "Pulsa Guardar y luego nada Salir."),
        (
            'Lee el [área de clientes](https://x.example/a "t") o <https://y.example>.',
            "Lee el área de clientes o https://y.example.",
        ),
        ("![Logo de la tienda](logo.png) Bienvenido", "Logo de la tienda Bienvenido"),
        ("- Tarjeta\n- Bizum\n* Efectivo\n\n+ Cheque", "Tarjeta. Bizum. Efectivo. Cheque"),
        ("1. Abre la app\n2. Pulsa *Pagar*", "1. Abre la app. 2. Pulsa Pagar"),
        ("> Cita con **énfasis**", "Cita con énfasis"),
        ("Ejecuta `reset --hard` ahora.", "Ejecuta reset --hard ahora."),
        ("```bash\nsudo reboot\n```\n\nDespués espera.", "sudo reboot. Después espera."),
        ("| Plan | Precio |\n|:-----|------:|\n| Fibra | 30 € |", "Plan, Precio. Fibra, 30 €"),
        ("| Móvil | 10 € |\n| Fibra | **30 €** |", "Móvil, 10 €. Fibra, 30 €"),  # rows cut from their header
        ('<div class="aviso"><p>Pago <b>devuelto</b> &amp; avisado</p></div>', "Pago devuelto & avisado"),
        ('Un <span style="x">aviso</span> en línea<br>y otro', "Un aviso en línea y otro"),
        ("<script>alert(1)</script>\n\nTexto visible", "Texto visible"),
        ("Línea uno\nlínea   dos\n\n\n   Párrafo\ttres", "Línea uno línea dos. Párrafo tres"),
        ("Horario: lunes a viernes\n\n---\n\nAverías 24 h", "Horario: lunes a viernes. Averías 24 h"),
        ("Precio 5 \\* 2 &eacute;xito", "Precio 5 * 2 éxito"),
        ("ñandú, pingüino, acción, ¿qué?, ¡sí!", "ñandú, pingüino, acción, ¿qué?, ¡sí!"),
    ],
)
def test_snippets_are_plain_text(markdown: str, plain: str) -> None:
    assert clean(markdown) == plain


def test_a_leading_heading_that_repeats_the_title_is_dropped() -> None:
    text = "# Facturas  y pagos\n\nLa factura llega el día 1.\n\n## Formas de pago\n\nTarjeta."
    assert clean(text, "Facturas y pagos") == "La factura llega el día 1. Formas de pago. Tarjeta."
    assert clean(text, "facturas y PAGOS").startswith("La factura")  # compared case-insensitively
    assert clean("## Formas de pago\n\nTarjeta.", "Facturas y pagos") == "Formas de pago. Tarjeta."
    assert clean("Router: plug it in.", "Router") == "Router: plug it in."  # only a heading is dropped
    assert clean("# Router", "Router") == "Router"  # nothing else to show


def test_long_text_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "Las devoluciones se aceptan durante treinta días naturales desde la entrega del pedido. " * 6
    cut = clean(text, limit=100)
    assert len(cut) <= 100 and cut.endswith("…")
    assert text.startswith(cut[:-1]) and text[len(cut) - 1] == " "  # whole words only
    assert (
        cut == "Las devoluciones se aceptan durante treinta días naturales desde la entrega del pedido. Las…"
    )
    assert cut_at_word("corto", 10) == "corto" and cut_at_word("exacto", 6) == "exacto"
    assert cut_at_word("uno dos, tres", 9) == "uno dos…"  # no dangling punctuation
    assert cut_at_word("a" * 50, 10) == "a" * 9 + "…"  # a single long word is cut anyway
    assert cut_at_word("pingüino camión", 12) == "pingüino…"


def test_the_first_heading_titles_a_markdown_document() -> None:
    assert markdown_title("# Facturas y *pagos*\n\ntexto\n\n# Otro") == "Facturas y pagos"
    assert markdown_title("Intro.\n\n## Sección\n\n# Guía de [envíos](https://x)\n") == "Guía de envíos"
    assert markdown_title("## Preguntas frecuentes\n\nTexto") == "Preguntas frecuentes"  # opens the text
    assert markdown_title("Título\n======\n\nTexto") == "Título"
    assert markdown_title("Solo texto.\n\n## Una sección") is None
    assert markdown_title("#\n\ntexto") is None and markdown_title("") is None
    assert markdown_title("```\n# no es un título\n```") is None


def test_the_file_reader_gives_a_markdown_or_pdf_file_its_own_title() -> None:
    reader = FileReader()
    md = "\ufeff# Envíos y devoluciones\n\nEnviamos en 48 h.".encode()
    assert reader.read("envios.md", "text/markdown", md).title == "Envíos y devoluciones"
    assert reader.read("envios", "text/x-markdown", md).title == "Envíos y devoluciones"
    assert reader.read("envios.txt", "text/plain", md).title is None  # plain text has no markup
    assert reader.read("envios.md", None, md).text.startswith("# Envíos")

    assert (
        reader.read("a.pdf", "application/pdf", _pdf_titled("Manual del router")).title == "Manual del router"
    )
    assert reader.read("a.pdf", "application/pdf", _pdf_titled("Microsoft Word - manual.docx")).title is None
    assert reader.read("a.pdf", "application/pdf", pdf_bytes(["Sin metadatos"])).title is None


def _pdf_titled(title: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(["Texto del manual"]))))
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_chunks_of_one_document_are_one_source_with_its_best_score() -> None:
    chunks = [
        ScoredChunk("pagos", "Facturas y pagos", "# Facturas y pagos\n\nLa factura llega el día 1.", 0.71, 0),
        ScoredChunk("envios", "Envíos", "Enviamos en **48 h**.", 0.64, 0),
        ScoredChunk("pagos", "Facturas y pagos", "## Pagos atrasados\n\nSe limita el servicio.", 0.83, 3),
        ScoredChunk("router", "Router", "Enchufa el cable.", 0.2),
        ScoredChunk("envios", "Envíos", "Recogida en tienda.", 0.1),
    ]
    sources = sources_of(chunks, RENDERER)
    assert [(s.document_id, s.score) for s in sources] == [("pagos", 0.83), ("envios", 0.64), ("router", 0.2)]
    assert sources[0].snippet == "Pagos atrasados. Se limita el servicio."  # from the best chunk
    assert sources[1].snippet == "Enviamos en 48 h."
    assert sources_of([], RENDERER) == ()
    assert sources_of([ScoredChunk("d", "T", "x", 0.123456)], RENDERER)[0].score == 0.1235


def test_blocks_keep_headings_apart() -> None:
    assert list(RENDERER.blocks("# Uno\n\ndos")) == [TextBlock("Uno", heading=True), TextBlock("dos")]
