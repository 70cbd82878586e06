"""Certificates of participation (issue 17): codes, release and revocation, the PDF, the public
verification page's answer, and the records a funded series' project report needs."""
