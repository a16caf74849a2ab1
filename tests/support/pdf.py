"""Reading back the PDFs the app writes (statements): their text, page by page."""

import io

from pypdf import PdfReader


def pdf_pages(document: bytes) -> list:
    return PdfReader(io.BytesIO(document)).pages


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in pdf_pages(document))
