"""Parts of bench/e2e_sync.py: the processes it starts and measures, the changes it makes
through the CRMs' APIs, the call floors it prices, the tables it writes."""
