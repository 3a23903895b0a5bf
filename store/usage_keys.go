package store

// monthLayout names a calendar month (UTC) in the keys of monthly counters.
const monthLayout = "2006-01"
