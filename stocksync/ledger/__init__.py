"""The ledger adapter: tables, transactions and the operations that change stock."""
