//! Mon-style monitoring: the check scheduler and the checks it runs.
