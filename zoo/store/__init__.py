"""Where results and jobs live: SQLite or PostgreSQL behind one interface, the schema and its
migrations, the measurement store and the job queue.

May import: the zoo's core modules, ``zoo.records``, ``zoo.models``.
"""
