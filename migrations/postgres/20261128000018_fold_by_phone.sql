-- A website message folds into a recent one with the same key, which is a digest of the phone
-- and the text. The stored messages it could fold into are found through the cases' phone
-- index (`cases_phone`) and compared by key there, so the key needs no index of its own: one
-- randomly keyed index entry fewer for every message, in the page writes of every commit.
drop index website_messages_fold;
