"""The released VR-Thinker protocols: the cards' texts (`cards`), the authors' code facts
(`authors`), the answer reader (`answers`), and the two protocols built from them (`protocol`)."""
