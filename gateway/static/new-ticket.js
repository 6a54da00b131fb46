// new-ticket page script (owned by that page group); loaded only by its template.
