/* Keeps the support library non-empty before any helper exists. */
typedef int crier_test_support_empty;
