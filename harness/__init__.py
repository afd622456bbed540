"""What the tests and the benchmarks both need to run the project for real: a PostgreSQL server
of their own (``pgserver``), the dashboard under ``streamlit run`` driven from Chromium
(``browser``), and labelled image folders made from the bundled photos (``corpus``).
Not part of the installed product.
"""
