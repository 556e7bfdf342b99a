"""web/: the map page, served at / and talking to the API only."""
